"""MediaPipe's legacy pose solution voting over crops of the photo, as a source.

Why: MediaPipe finds one person per image, and on two tangled fighters the whole photo often
gives a blend of both. So the detector also looks at overlapping halves of the photo, upright and
upside down, and the people found most often win. The views run on the detector's landmark model,
whose views rank the people, and again on the heavy model, whose detections may stand for a person
but never outvote: heavy places a found person's joints better and blends tangled fighters more
often (docs/decisions.md, "One crop vote over both landmark models").
"""
from __future__ import annotations

import numpy as np

from ...keypoints import same_person
from ..candidates import enough_keypoints
from .. import mediapipe_pose
from ..mediapipe_pose import detect_views
from .base import Candidate, Request, Source, roles_left

# Parts of the photo (fractions x0, y0, x1, y1) the detector looks at: the whole, and halves that
# overlap by a fifth. MediaPipe finds one person per image; a fighter standing beside (or above)
# the other fills one half, where the whole photo often gives a blend of both.
GROUP_TOLERANCE = 0.05  # detections this close (a fraction of the body's size) are one person
CROPS = ((0.0, 0.0, 1.0, 1.0), (0.0, 0.0, 0.6, 1.0), (0.4, 0.0, 1.0, 1.0), (0.0, 0.0, 1.0, 0.6), (0.0, 0.4, 1.0, 1.0))
# The landmark model whose detections join the vote without counting as views (None: none).
PLACING_MODEL = "heavy"


def placing_model() -> str | None:
    """PLACING_MODEL where it differs from the detector's own model and can be had here, else None."""
    ranking = mediapipe_pose.landmark_model_in_use()
    if PLACING_MODEL is None or PLACING_MODEL == ranking:
        return None
    placing = mediapipe_pose.landmark_model_in_use(PLACING_MODEL)
    return None if placing == ranking else placing


def candidate_people(rgb: np.ndarray) -> list:
    """Distinct people in the image, most credible first. Every crop is tried upright and upside
    down (the whole photo at every quarter turn), on the detector's model and on the placing
    model; detections of one person are grouped, and a person found in more of the detector's
    views, then more confidently, ranks higher: a blend of two fighters or a body invented inside
    a half rarely comes back the same way twice. Each person is its most confident detection."""
    height, width = rgb.shape[:2]
    views, corners = [], []
    for index, (fx0, fy0, fx1, fy1) in enumerate(CROPS):
        x0, y0, x1, y1 = round(fx0 * width), round(fy0 * height), round(fx1 * width), round(fy1 * height)
        crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
        for quarter_turns in (0, 1, 2, 3) if index == 0 else (0, 2):
            views.append((crop, quarter_turns))
            corners.append((x0, y0))
    found_all = [(found, True) for found in detect_views(views)]
    placing = placing_model()
    if placing is not None:
        found_all += [(found, False) for found in detect_views(views, placing)]
        corners = corners + corners
    groups: list[list] = []
    for (found, counts), (x0, y0) in zip(found_all, corners):  # grouped in the views' order
        if found is None or not enough_keypoints(found.confidence):
            continue
        found.points = found.points + [x0, y0]
        found.counts = counts
        # Tight, because fighters in contact stand close and a blend of both lies near each.
        group = next((g for g in groups if same_person(found.points, found.confidence, g[0].points,
                                                       g[0].confidence, GROUP_TOLERANCE)), None)
        if group is None:
            groups.append([found])
        else:
            group.append(found)
    def views_of(group):
        return sum(d.counts for d in group)

    groups.sort(key=lambda g: (views_of(g), max(float(d.confidence.mean()) for d in g)), reverse=True)
    best = [max(g, key=lambda d: float(d.confidence.mean())) for g in groups]
    for detection, group in zip(best, groups):
        detection.views = views_of(group)  # how many of the detector's views found this person
    return best


VIEWS = sum(4 if index == 0 else 2 for index in range(len(CROPS)))  # views candidate_people tries
# A person found in one view only and with a low mean confidence is what MediaPipe invents in
# noise (docs/decisions.md, "No made-up people"): real fighters came back in 10 or more views.
MIN_VIEWS = 2
MIN_MEAN_CONFIDENCE = 0.5


def credible_person(detection) -> bool:
    """Whether a person of candidate_people is more than MediaPipe's guess in noise."""
    return getattr(detection, "views", VIEWS) >= MIN_VIEWS or float(detection.confidence.mean()) >= MIN_MEAN_CONFIDENCE


class MediaPipeCrops(Source):
    name = "mediapipe_crops"

    def applies(self, request: Request, earlier: list[Candidate]) -> bool:
        return request.keypoints_file is None and roles_left(earlier, request.count) > 0

    def candidates(self, request: Request, earlier: list[Candidate]) -> list[Candidate]:
        request.reporter.progress("detect", request.count - roles_left(earlier, request.count), request.count)
        found = []
        for d in candidate_people(request.rgb):
            mean = float(d.confidence.mean())
            doubt = None if credible_person(d) else (f"came back in {d.views} of {VIEWS} views with a mean keypoint "
                                                     f"confidence of {mean:.2f}, as it does in noise")
            found.append(Candidate(d.points / request.scale, d.confidence, self.name, score=d.views + mean,
                                   points3d=d.points3d, doubt=doubt))
        return found
