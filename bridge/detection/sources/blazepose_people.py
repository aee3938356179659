"""MediaPipe's two BlazePose models (bridge.detection.blazepose_people) as a source: every person
the pose detector finds, with the landmark model's segmentation as its mask."""
from __future__ import annotations

from ...keypoints import mapping_matrix
from ..blazepose_people import detector
from ..candidates import full_size
from .base import Candidate, Request, Source, roles_left

MAX_PEOPLE = 3  # two fighters and a referee
MASK_LEVEL = 0.5  # the segmentation's probability above which a pixel is the person's


class BlazePosePeople(Source):
    name = "blazepose"

    def applies(self, request: Request, earlier: list[Candidate]) -> bool:
        """For a second fighter, and only where another detector found a credible person: alone it
        invents people in smooth noise (docs/decisions.md, "Detector interface")."""
        return request.keypoints_file is None and request.count >= 2 and roles_left(earlier, request.count) > 0 \
            and any(c.role is None and c.doubt is None for c in earlier)

    def candidates(self, request: Request, earlier: list[Candidate]) -> list[Candidate]:
        try:
            models = detector()
        except (ImportError, FileNotFoundError, ValueError, RuntimeError):
            return []  # the other sources still run
        found = []
        for person in models.detect_people(request.rgb, max_people=MAX_PEOPLE):
            points, confidence = person.body25()
            found.append(Candidate(points / request.scale, confidence, self.name, score=person.quality,
                                   mask=full_size(person.mask > MASK_LEVEL, request.photo),
                                   points3d=mapping_matrix("blazepose33") @ person.world))
        return found
