"""The artist's rectangles as a source: in each, GrabCut cuts the fighter (with the strokes where
given) and the detector finds it on the cut-out; the candidate carries the rectangle's role."""
from __future__ import annotations

import numpy as np

from ...errors import BridgeError
from ..candidates import enough_keypoints, full_size, working_strokes
from ..isolation import grabcut_mask
from ..mediapipe_pose import detect_fighter
from .base import Candidate, Request, Source


class ArtistRects(Source):
    name = "artist_rect"

    def applies(self, request: Request, earlier: list[Candidate]) -> bool:
        return request.keypoints_file is None and bool(request.ruled_roles())

    def candidates(self, request: Request, earlier: list[Candidate]) -> list[Candidate]:
        found = []
        for step, role in enumerate(request.ruled_roles()):
            request.reporter.progress("detect", step, request.count)
            hint = request.hints[role]
            rect = np.asarray(hint.rect, float) * request.scale
            mask = grabcut_mask(request.rgb, rect=rect, strokes=working_strokes(hint, request.photo, request.scale))
            detection = detect_fighter(request.rgb, mask)
            if detection is None or not enough_keypoints(detection.confidence):
                raise BridgeError("no_person", f"No person was found inside the rectangle for {role}.",
                                  "Draw the rectangle around the whole fighter, or give keypoints with --keypoints.")
            found.append(Candidate(detection.points / request.scale, detection.confidence, self.name, score=1.0,
                                   mask=full_size(mask, request.photo), points3d=detection.points3d, role=role))
        return found
