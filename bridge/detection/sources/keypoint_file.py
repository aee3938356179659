"""A keypoint file (OpenPose or COCO JSON, or the artist's keypoints from Blender) as a source:
every person in it, given (never re-detected), scored by size and closeness to the centre."""
from __future__ import annotations

from ..blazepose import FILE_CUE_WEIGHT, world_landmarks
from ..keypoint_file import check_near_photo, load_keypoint_file, prominence
from .base import Candidate, Request, Source


class KeypointFile(Source):
    name = "keypoint_file"

    def applies(self, request: Request, earlier: list[Candidate]) -> bool:
        return request.keypoints_file is not None

    def candidates(self, request: Request, earlier: list[Candidate]) -> list[Candidate]:
        width, height = request.photo.width, request.photo.height
        return [Candidate(points, confidence, self.name, score=prominence(points, confidence, width, height),
                          given=True) for points, confidence in load_keypoint_file(request.keypoints_file)]

    def finish(self, candidate: Candidate, request: Request) -> Candidate:
        """Checked against the photo; the file gives no 3D, so MediaPipe's landmark model on a crop
        around the keypoints gives the depth cue the detector's people carry (issue 19)."""
        photo = request.photo
        check_near_photo(request.keypoints_file, candidate.points, candidate.confidence, photo.width, photo.height)
        candidate.points3d = world_landmarks(photo.rgb, candidate.points, candidate.confidence)
        candidate.points3d_weight = FILE_CUE_WEIGHT
        return candidate
