"""The fit's losses, one owner for each: the robust reprojection of keypoints (Geman-McClure,
weighted by confidence squared) and the detector's 3D limb directions. Refinement and contact
resolution hold the keypoints with the same reprojection loss."""
from __future__ import annotations

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
