"""The detector interface: every source of people gives Candidates, and one consensus
(bridge.detection.consensus) picks the fighters among them. Why: a new detector then is one
module, not another branch through find_fighters."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...imaging.photo import Photo
from ...keypoints import PersonTarget


@dataclass(eq=False)  # one candidate is itself only: arrays do not compare as truth values
class Candidate:
    """One person as one source saw it."""

    points: np.ndarray  # (25, 2) BODY_25 in the photo's pixels
    confidence: np.ndarray  # (25,)
    source: str  # the name of the Source that gave it
    score: float = 0.0  # how much the source believes in it; compared within one source only
    mask: np.ndarray | None = None  # (H, W) bool in the photo's pixels, where the source cut one
    points3d: np.ndarray | None = None  # metric 3D, camera-aligned axes (PersonTarget.points3d)
    points3d_weight: float = 1.0
    role: str | None = None  # the artist's word: this is that fighter (a rectangle)
    given: bool = False  # keypoints given, not detected (a file): used as they are, never re-detected
    doubt: str | None = None  # why it may be no person at all (None: credible); ends a sentence
    partner: Candidate | None = None  # the person it was found touching, looked for beside (second_look)

    def target(self) -> PersonTarget:
        return PersonTarget(self.points, self.confidence, self.points3d, self.points3d_weight)


@dataclass
class Request:
    """What every source looks at."""

    photo: Photo
    rgb: np.ndarray  # the photo at the detector's working size
    scale: float  # from the photo's pixels to rgb's
    count: int  # fighters wanted (1 or 2)
    hints: dict  # role -> FighterHints (bridge.detection.fighters), checked
    keypoints_file: Any = None  # path of a keypoint file, or None
    reporter: Any = None  # bridge.progress.Reporter

    def ruled_roles(self) -> list[str]:
        """The roles the artist drew a rectangle for, in ROLES order."""
        from ...result.format import ROLES

        return [role for role in ROLES[:self.count] if self.hints.get(role) and self.hints[role].rect is not None]


class Source:
    """A source of candidate people. Subclass it in a module of this folder and add an instance
    to SOURCES (__init__.py); sources run in that order."""

    name = "source"

    def applies(self, request: Request, earlier: list[Candidate]) -> bool:
        """Whether to run for this request, given the candidates the sources before it gave."""
        return True

    def candidates(self, request: Request, earlier: list[Candidate]) -> list[Candidate]:
        """The people it sees, most prominent first; a BridgeError when the artist's input is wrong."""
        raise NotImplementedError

    def finish(self, candidate: Candidate, request: Request) -> Candidate:
        """A chosen candidate made ready to fit: checks and costly extras only the fighters need."""
        return candidate


def roles_left(earlier: list[Candidate], count: int) -> int:
    """How many fighters the artist's rectangles have not placed yet."""
    return count - sum(c.role is not None for c in earlier)
