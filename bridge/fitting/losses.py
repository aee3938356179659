"""The fit's losses, one owner for each: the robust reprojection of keypoints (Geman-McClure,
weighted by confidence squared) and the detector's 3D limb directions. Refinement and contact
resolution hold the keypoints with the same reprojection loss."""
from __future__ import annotations

import math

import torch


def gmof(residual_sq: torch.Tensor, sigma: float) -> torch.Tensor:
    """Geman-McClure: about the squared residual near 0, at most sigma^2 far off."""
    return sigma**2 * residual_sq / (sigma**2 + residual_sq)


def robust_reprojection(pixels: torch.Tensor, points: torch.Tensor, weight: torch.Tensor, sigma: float) -> torch.Tensor:
    """Weighted robust reprojection error over the last keypoint axis ((..., K, 2) -> (...)),
    scaled so a far-off point costs about 1."""
    residual_sq = ((pixels - points) ** 2).sum(-1)
    return (weight * gmof(residual_sq, sigma)).sum(-1) / weight.sum(-1).clamp(min=1e-6) / sigma**2


def keypoint_loss(pixels: torch.Tensor, points: torch.Tensor, confidence: torch.Tensor, sigma: float) -> torch.Tensor:
    """One body's robust reprojection error, weighted by confidence squared (what refinement
    and resolve-contact hold the keypoints to)."""
    return robust_reprojection(pixels, points, confidence**2, sigma)


def limb_direction_loss(keypoints: torch.Tensor, limb_a: torch.Tensor, limb_b: torch.Tensor, guide_dirs: torch.Tensor,
                        guide_weight: torch.Tensor) -> torch.Tensor:
    """How far each limb's 3D direction is from the detector's estimate (1 - cosine), weighted:
    the depth cue that 2D keypoints lack."""
    dirs = torch.nn.functional.normalize(keypoints[..., limb_b, :] - keypoints[..., limb_a, :], dim=-1)
    misalignment = (guide_weight * (1.0 - (dirs * guide_dirs).sum(-1))).sum(-1)
    return misalignment / guide_weight.sum(-1).clamp(min=1e-6)


# Ranges of motion from the American Academy of Orthopaedic Surgeons' tables (AAOS, "Joint
# Motion: Method of Measuring and Recording", 1965; Greene & Heckman, "The Clinical Measurement
# of Joint Motion", AAOS 1994; the same adult means in Norkin & White, "Measurement of Joint
# Motion"): hip extension 30 deg, hip flexion 120 deg, shoulder extension 60 deg (flexion 180 deg,
# overhead). Measured here on the keypoints, in the sagittal plane of the pelvis (hips) and of the
# chest (shoulders). Margins for what keypoints measure loosely: hip flexion to 150 deg (the
# pelvis tilts with it); the shoulder counts only where the upper arm lies mostly in the sagittal
# plane (an arm out to the side and back, pulling a sleeve, is horizontal abduction, not
# extension: true uchi-mata measures -114 deg there). Dropped after measuring on the true
# skeletons of the committed scenes (docs/decisions.md, "Depth from one photo"): the ankle (20 deg
# dorsiflexion; squatting judoka measure 40-50 deg past neutral), the spine, neck and wrists
# (BODY_25 has no points that measure them apart from the torso's bend).
HIP_EXTENSION = math.radians(30.0)
HIP_FLEXION = math.radians(150.0)
SHOULDER_EXTENSION = math.radians(60.0)
SHOULDER_PAST_OVERHEAD = math.radians(30.0)  # flexion may pass overhead by this much
SAGITTAL_ONLY = 0.7  # the shoulder's limit counts where the arm's sagittal share exceeds this
_K = {name: i for i, name in enumerate((
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow", "left_wrist",
    "mid_hip", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "right_eye",
    "left_eye", "right_ear", "left_ear", "left_big_toe", "left_small_toe", "left_heel", "right_big_toe",
    "right_small_toe", "right_heel"))}


def _frame(keypoints: torch.Tensor, right: str, left: str):
    """(left, up, forward) unit axes of the body at the right/left pair (hips or shoulders)."""
    lateral = torch.nn.functional.normalize(keypoints[..., _K[left], :] - keypoints[..., _K[right], :], dim=-1)
    up = keypoints[..., _K["neck"], :] - keypoints[..., _K["mid_hip"], :]
    up = torch.nn.functional.normalize(up - (up * lateral).sum(-1, keepdim=True) * lateral, dim=-1)
    return lateral, up, torch.linalg.cross(lateral, up)


def _sagittal_angle(direction: torch.Tensor, up: torch.Tensor, forward: torch.Tensor):
    """Angle of a limb in the body's sagittal plane (0 straight down, positive forward) and the
    length of its projection there (how much that angle means)."""
    f, u = (direction * forward).sum(-1), (direction * up).sum(-1)
    return torch.atan2(f, -u), torch.sqrt(f**2 + u**2 + 1e-9)


def _segment(keypoints, a: str, b: str):
    return torch.nn.functional.normalize(keypoints[..., _K[b], :] - keypoints[..., _K[a], :], dim=-1)


def joint_limit_excess(keypoints: torch.Tensor) -> dict[str, torch.Tensor]:
    """By how much (radians, (...,) each) the hips and shoulders of BODY_25 keypoints
    (..., 25, 3) go past their range of motion, per limb: "right arm", "left arm", "right leg",
    "left leg"."""
    keypoints = torch.as_tensor(keypoints, dtype=torch.float32)
    _, chest_up, chest_forward = _frame(keypoints, "right_shoulder", "left_shoulder")
    _, pelvis_up, pelvis_forward = _frame(keypoints, "right_hip", "left_hip")
    excess = {}
    for side in ("right", "left"):
        arm = _segment(keypoints, f"{side}_shoulder", f"{side}_elbow")
        angle, share = _sagittal_angle(arm, chest_up, chest_forward)
        # Between extension's limit (behind) and flexion past overhead (angle near -180 deg).
        behind = torch.relu(torch.minimum(-SHOULDER_EXTENSION - angle, angle + math.pi - SHOULDER_PAST_OVERHEAD))
        excess[f"{side} arm"] = torch.relu(share - SAGITTAL_ONLY) / (1.0 - SAGITTAL_ONLY) * behind
        angle, share = _sagittal_angle(_segment(keypoints, f"{side}_hip", f"{side}_knee"), pelvis_up, pelvis_forward)
        excess[f"{side} leg"] = share * (torch.relu(-HIP_EXTENSION - angle) + torch.relu(angle - HIP_FLEXION))
    return excess


def joint_limit_loss(keypoints: torch.Tensor) -> torch.Tensor:
    """Squared excess over the ranges of motion, summed over the joints ((..., 25, 3) -> (...))."""
    return sum(e**2 for e in joint_limit_excess(keypoints).values())
