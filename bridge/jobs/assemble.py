"""From fitted parameters to what a result folder holds: the fighter arrays, who is in front,
and the overlay. One place, so `reconstruct`, `refine` and `resolve-contact` write the same."""
from __future__ import annotations

import numpy as np
import torch

from ..body import BodyModel
from ..fitting.pair import silhouette_overlap
from ..geometry.camera import project
from ..geometry.raster import silhouette_mask
from ..imaging.overlay import draw_overlay
from ..refinement.render import body_seen_at
from ..result.format import (HYPOTHESIS_BONE_POSES, HYPOTHESIS_LABEL, HYPOTHESIS_POSE, HYPOTHESIS_SCORE,
                             HYPOTHESIS_TRANSL)


def fighter_arrays(body: BodyModel, shape: torch.Tensor, pose: torch.Tensor, transl: torch.Tensor,
                   points: np.ndarray, confidence: np.ndarray, vertices: torch.Tensor | None = None,
                   hypotheses: list | None = None) -> dict:
    """One fighter by the data contract (docs/result_format.md). `vertices` replaces the posed mesh when a
    raw-vertex refinement moved it off what the parameters give. `hypotheses` (ranked, best first:
    bridge.fitting.hypotheses.Hypothesis) become the hypothesis_* arrays; the first is the one
    given by pose and transl (the fit after any joint stage), so it is written as those."""
    shape, pose, transl = (torch.as_tensor(t, dtype=torch.float32) for t in (shape, pose, transl))
    with torch.no_grad():
        out = body.forward(shape[None], pose[None], transl[None])
    skeleton = body.rest_skeleton(shape)
    posed = out.bone_poses[0].numpy()
    mesh = out.vertices[0] if vertices is None else torch.as_tensor(vertices, dtype=torch.float32)
    keypoints = out.keypoints[0] if vertices is None else body.keypoints_of(mesh[None])[0]
    extra = {}
    if hypotheses:
        poses = torch.stack([pose] + [torch.as_tensor(h.pose, dtype=torch.float32) for h in hypotheses[1:]])
        transls = torch.stack([transl] + [torch.as_tensor(h.transl, dtype=torch.float32) for h in hypotheses[1:]])
        with torch.no_grad():
            bone_poses = body.forward(shape[None].expand(len(poses), -1), poses, transls).bone_poses
        extra = {
            HYPOTHESIS_BONE_POSES: bone_poses.numpy().astype(np.float32),
            HYPOTHESIS_POSE: poses.numpy().astype(np.float32),
            HYPOTHESIS_TRANSL: transls.numpy().astype(np.float32),
            HYPOTHESIS_SCORE: np.array([h.score for h in hypotheses], np.float32),
            HYPOTHESIS_LABEL: np.array([h.label for h in hypotheses]),
        }
    return {
        "vertices": mesh.numpy().astype(np.float32),
        "faces": body.faces.numpy().astype(np.int32),
        "keypoints3d": keypoints.numpy().astype(np.float32),
        "keypoints2d": np.asarray(points, np.float32),
        "keypoint_confidence": np.asarray(confidence, np.float32),
        "pose": pose.numpy().astype(np.float32),
        "shape": shape.numpy().astype(np.float32),
        "transl": transl.numpy().astype(np.float32),
        "bone_names": np.array(body.bone_names),
        "bone_parents": np.array(body.bone_parents, dtype=np.int32),
        "rest_heads": skeleton["rest_heads"].astype(np.float32),
        "rest_tails": skeleton["rest_tails"].astype(np.float32),
        "bone_poses": posed.astype(np.float32),
        "bone_transforms": (posed @ np.linalg.inv(skeleton["rest_poses"])).astype(np.float32),
        "skin_weights": skeleton["skin_weights"],
        **body.native_parameters(shape, pose, transl),  # the model's own parameters, for its own tools
        **extra,
    }


def kept_hypotheses(before: dict, after: dict) -> dict:
    """`after` (a fighter's arrays rebuilt from a new state) with `before`'s ranked hypotheses,
    the first replaced by the new state: refinement moves the chosen body, not the others."""
    if HYPOTHESIS_POSE not in before or HYPOTHESIS_POSE in after:
        return after
    kept = {key: np.array(before[key]) for key in (HYPOTHESIS_BONE_POSES, HYPOTHESIS_POSE, HYPOTHESIS_TRANSL,
                                                  HYPOTHESIS_SCORE, HYPOTHESIS_LABEL) if key in before}
    kept[HYPOTHESIS_BONE_POSES][0] = after["bone_poses"]
    kept[HYPOTHESIS_POSE][0] = after["pose"]
    kept[HYPOTHESIS_TRANSL][0] = after["transl"]
    return {**after, **kept}


# At most this many of the fitted overlap's pixels are ray cast for front_role (a 12-megapixel
# photo's overlap holds a million; a majority needs far fewer).
FRONT_SAMPLES = 20000


def front_role(arrays: dict[str, dict], K: np.ndarray, width: int, height: int) -> str:
    """The role in front where the bodies overlap: the one the fitted bodies show on more of the
    pixels both cover, so `front` says what the written scene shows (the photo's colours steer the
    fit, not this: docs/decisions.md, "The written `front`"). Without overlap, the nearer body."""
    roles = list(arrays)
    if len(roles) == 1:
        return roles[0]
    bodies = [arrays[r]["vertices"] for r in roles]  # as result_overlay draws them: its masks are cached
    faces = arrays[roles[0]]["faces"]
    rows, cols = np.nonzero(silhouette_overlap(bodies, faces, K, width, height))
    if len(rows) == 0:
        return min(roles, key=lambda r: arrays[r]["transl"][2])
    step = -(-len(rows) // FRONT_SAMPLES)
    seen = body_seen_at(K, bodies, faces, np.stack([cols[::step], rows[::step]], axis=1) + 0.5)
    return roles[int(np.argmax([np.count_nonzero(seen == k) for k in range(len(roles))]))]


def result_overlay(rgb: np.ndarray, K: np.ndarray, arrays: dict[str, dict], in_photo: dict[str, bool]) -> np.ndarray:
    """The photo with each fighter's outline, its keypoints and the fitted ones; a fighter from
    another photo (`in_photo` False) shows no detected keypoints here."""
    height, width = rgb.shape[:2]
    people = []
    for role, a in arrays.items():
        confidence = a["keypoint_confidence"] if in_photo.get(role, True) else np.zeros(len(a["keypoint_confidence"]))
        people.append({
            "mask": silhouette_mask(K, a["vertices"], a["faces"], width, height),
            "detected": (a["keypoints2d"], confidence),
            "fitted": project(K, a["keypoints3d"]),
        })
    return draw_overlay(rgb, people)
