"""The fighter the detector missed, looked for beside the one it found, as a source.

Why: MediaPipe finds one person per image. Where one fighter lies under or behind the other
(tori under uke in seoi-nage, tori on his back in tomoe-nage), every crop gives back the visible
fighter, or a blend of both, and a referee standing apart becomes the second person. Two judo
fighters touch, so when the pair the consensus would take does not touch (or is one person), each
of its people is painted out and the detector looks again around where that person stood; where
the pair touches but the second person lies mostly on the first one's body, the first is painted
out and looked beside. A person found there, touching it, joins the candidates as its partner,
and the consensus takes the two (unless the look saw the second person again: then no blend).
"""
from __future__ import annotations

import cv2
import numpy as np

from ...imaging.masks import TORSO  # a polygon, in order
from ...keypoints import CONFIDENT, INDEX, LIMBS, keypoint_size, same_person, share_inside
from ..pairing import fighters_in_contact, in_contact
from .base import Candidate, Request, Source, roles_left
from .mediapipe_crops import VIEWS, candidate_people

REACH = 0.5  # the searched region: the person's keypoint box grown by this share of its diagonal each side
LIMB_WIDTH = 0.05  # half-width of a painted-out limb, a share of the person's keypoint box diagonal
HEAD = [INDEX[n] for n in ("nose", "right_eye", "left_eye", "right_ear", "left_ear")]
# Where the pair touches, the second person is looked behind only when at least this share of its
# confident keypoints lies on the first one's painted body, as a blend of both does
# (docs/decisions.md, "The second look").
SUSPECT = 0.4
# A person found beside must come back in this many views: what is left of a painted-out body (its
# feet, an arm's edge) can fool the detector once.
MIN_VIEWS = 2
ON_PAINT = 0.5  # a detection with this share of its confident keypoints on the paint is the painted person


def distinct_people(candidates: list[Candidate]) -> list[Candidate]:
    """The credible, unnamed candidates that are nobody earlier in the list, in their order."""
    people: list[Candidate] = []
    for c in candidates:
        if c.role is None and c.doubt is None and not any(
                same_person(c.points, c.confidence, p.points, p.confidence) for p in people):
            people.append(c)
    return people


def painted_out(rgb: np.ndarray, points: np.ndarray, confidence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The image with one person's limbs, torso and head covered by the mean colour of the rest,
    and the (H, W) bool cover."""
    size = max(keypoint_size(points, confidence), 8.0)
    width = max(2, int(round(2 * LIMB_WIDTH * size)))
    cover = np.zeros(rgb.shape[:2], np.uint8)
    sure = confidence >= CONFIDENT
    for a, b in LIMBS:
        if sure[a] and sure[b]:
            cv2.line(cover, tuple(int(v) for v in points[a]), tuple(int(v) for v in points[b]), 1, width)
    if sure[TORSO].all():
        cv2.fillPoly(cover, [np.round(points[TORSO]).astype(np.int32)], 1)
    head = [i for i in HEAD if sure[i]]
    if head:
        centre = points[head].mean(0)
        cv2.circle(cover, tuple(int(v) for v in centre), int(round(1.5 * width)), 1, -1)
    covered = cover.astype(bool)
    out = rgb.copy()
    if (~covered).any():
        out[covered] = np.round(rgb[~covered].mean(axis=0)).astype(np.uint8)
    return out, covered


def look_beside(painted: np.ndarray, cover: np.ndarray, points: np.ndarray, confidence: np.ndarray) -> list:
    """The people (mediapipe_crops' detections, image pixels, seen in MIN_VIEWS views or more)
    found around a person (points in the image's pixels) in `painted`, the image with that person
    painted out (`cover`, from painted_out), other than that person."""
    sure = points[confidence >= CONFIDENT]
    size = keypoint_size(points, confidence)
    height, width = painted.shape[:2]
    x0, y0 = np.maximum(np.floor(sure.min(0) - REACH * size), 0).astype(int)
    x1, y1 = np.minimum(np.ceil(sure.max(0) + REACH * size), [width, height]).astype(int)
    crop = np.ascontiguousarray(painted[y0:y1, x0:x1])
    found = []
    for detection in candidate_people(crop):
        detection.points = detection.points + [x0, y0]
        # Most of its keypoints on the paint: the painted person again, seen through what was left.
        if detection.views >= MIN_VIEWS and share_inside(detection.points, detection.confidence, cover) < ON_PAINT:
            found.append(detection)
    return found


class SecondLook(Source):
    name = "second_look"

    def applies(self, request: Request, earlier: list[Candidate]) -> bool:
        return (request.keypoints_file is None and request.count == 2 and roles_left(earlier, request.count) == 2
                and bool(distinct_people(earlier)))

    def candidates(self, request: Request, earlier: list[Candidate]) -> list[Candidate]:
        pair = fighters_in_contact(distinct_people(earlier))
        touching = len(pair) == 2 and in_contact(pair[0], pair[1])
        scale = request.scale
        found = []
        for anchor in pair[:1] if touching else pair:
            points = anchor.points * scale
            painted, cover = painted_out(request.rgb, points, anchor.confidence)
            # Where the pair touches: is the second person a blend of both, mostly on the first one's body?
            if touching and share_inside(pair[1].points * scale, pair[1].confidence, cover) < SUSPECT:
                continue
            beside = [Candidate(d.points / scale, d.confidence, self.name, score=d.views / VIEWS
                                + float(d.confidence.mean()), points3d=d.points3d, partner=anchor)
                      for d in look_beside(painted, cover, points, anchor.confidence)]
            beside = [c for c in beside if in_contact(c, anchor)]  # its box overlaps the anchor's
            if touching and any(same_person(c.points, c.confidence, pair[1].points, pair[1].confidence)
                                for c in beside):
                continue  # the second person seen again on its own: no blend, the crop vote's view stays
            found += beside
        return found
