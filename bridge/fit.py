"""SMPLify-style fit of one body to 2D keypoints in a known camera.

Why these choices: depth comes from torso length; a robust (Geman-McClure) reprojection loss
weighted by confidence so one wild detection cannot drag a limb; knees and elbows are hinges
whose angle may only be positive (they never bend backwards); an L2 pose prior and a shape
prior keep what 2D cannot decide near a plausible body; stages go from the torso and camera
to the whole body with the prior relaxed step by step; both facing directions are tried when
the shoulders are too close in the image to tell which way the person faces.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import roma
import torch

from .body import BodyModel, BodyOutput
from .camera import project
from .errors import BridgeError
from .keypoints import INDEX, LIMBS

TORSO_POINTS = [INDEX[n] for n in ("neck", "right_shoulder", "left_shoulder", "mid_hip", "right_hip", "left_hip")]
TORSO_LENGTH_M = 0.48  # neck to mid-hip of Anny's average body


@dataclass
class FitSettings:
    """Iterations per stage and prior weights (the staged schedule of SMPLify)."""

    global_steps: int = 60
    body_steps: tuple[int, ...] = (80, 80, 100)
    pose_prior: tuple[float, ...] = (0.1, 0.03, 0.01)
    # Robust loss scale per body stage, as a fraction of the image's larger side: wide first so
    # far-off limbs still pull, narrow last so a wild detection cannot.
    robust_scale: tuple[float, ...] = (0.5, 0.2, 0.08)
    shape_prior: float = 0.5
    # Weight of the detector's own 3D estimate (limb directions): the depth cue 2D lacks.
    direction_weight: float = 1.0
    learning_rate: float = 0.04


@dataclass
class FitResult:
    shape: torch.Tensor  # (S,)
    pose: torch.Tensor  # (J, 3)
    transl: torch.Tensor  # (3,)
    output: BodyOutput  # batch of one
    keypoint_error_px: float  # mean reprojection error over the confident keypoints


Progress = Callable[[str, int, int, float], None]


def _gmof(residual_sq: torch.Tensor, sigma: float) -> torch.Tensor:
    return sigma**2 * residual_sq / (sigma**2 + residual_sq)


def facing_yaws(points: np.ndarray, conf: np.ndarray) -> list[float]:
    """Candidate rotations about the vertical: the one the shoulders' left-right order says,
    and its flip too when the shoulders are close together in the image."""
    rs, ls, neck, hip = (INDEX[n] for n in ("right_shoulder", "left_shoulder", "neck", "mid_hip"))
    if min(conf[rs], conf[ls]) <= 0:
        return [0.0, math.pi]
    torso_px = np.linalg.norm(points[neck] - points[hip]) if min(conf[neck], conf[hip]) > 0 else 1.0
    # Upright and facing the camera, the left shoulder is on the image's right.
    across = points[ls] - points[rs]
    up = points[neck] - points[hip] if min(conf[neck], conf[hip]) > 0 else np.array([0.0, -1.0])
    side = across[0] * (-up[1]) - across[1] * (-up[0])  # > 0 when left is right of right, upright
    yaw = 0.0 if side >= 0 else math.pi
    if np.linalg.norm(across) < 0.35 * max(torso_px, 1.0):
        return [yaw, yaw + math.pi]
    return [yaw]


def initial_placement(points: np.ndarray, conf: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Root position from the torso's pixel length (depth) and the hips' pixel (direction)."""
    neck, hip = INDEX["neck"], INDEX["mid_hip"]
    valid = conf > 0
    if valid[neck] and valid[hip]:
        torso_px = np.linalg.norm(points[neck] - points[hip])
    else:
        torso_px = 0.3 * np.ptp(points[valid][:, 1]) if valid.sum() >= 2 else 0.0
    depth = K[0, 0] * TORSO_LENGTH_M / max(torso_px, 1.0)
    centre = points[hip] if valid[hip] else points[valid].mean(axis=0)
    ray = np.linalg.solve(K, np.array([centre[0], centre[1], 1.0]))
    return ray * depth


def fit_fighter(
    body: BodyModel,
    points: np.ndarray,
    conf: np.ndarray,
    K: np.ndarray,
    image_size: int,
    settings: FitSettings = FitSettings(),
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    points3d: np.ndarray | None = None,
) -> FitResult:
    """Fit one person's shape, pose and placement to BODY_25 keypoints (pixels) in camera K.

    `points3d`, when the detector gives one, is its metric 3D estimate in camera-aligned axes:
    its limb directions decide what 2D cannot, which way each limb points in depth."""
    dtype = torch.float32
    yaws = facing_yaws(points, conf)
    batch = len(yaws)
    target = torch.as_tensor(points, dtype=dtype)
    weight = torch.as_tensor(conf, dtype=dtype) ** 2
    torso_weight = torch.zeros_like(weight)
    torso_weight[TORSO_POINTS] = weight[TORSO_POINTS]
    K_t = torch.as_tensor(K, dtype=dtype)
    limb_a, limb_b = (torch.tensor(i) for i in zip(*LIMBS))
    if points3d is not None:
        guide = torch.as_tensor(points3d, dtype=dtype)
        guide_dirs = torch.nn.functional.normalize(guide[limb_b] - guide[limb_a], dim=-1)
        guide_weight = torch.minimum(weight[limb_a], weight[limb_b])

    joints = len(body.bone_names)
    free_index = torch.tensor([body.bone_names.index(b) for b in body.free_bones])
    hinge_index = torch.tensor([body.bone_names.index(h.bone) for h in body.hinges])
    hinge_axes = torch.tensor([h.axis for h in body.hinges], dtype=dtype)
    hinge_max = torch.tensor([h.max_angle for h in body.hinges], dtype=dtype)

    base = roma.rotvec_to_rotmat(body.base_orientation().to(dtype))
    yaw_rot = roma.rotvec_to_rotmat(torch.tensor([[0.0, y, 0.0] for y in yaws], dtype=dtype))
    root = roma.rotmat_to_rotvec(yaw_rot @ base).clone().requires_grad_(True)
    transl = torch.as_tensor(initial_placement(points, conf, K), dtype=dtype).repeat(batch, 1).requires_grad_(True)
    free = torch.zeros(batch, len(free_index), 3, dtype=dtype, requires_grad=True)
    hinge = torch.full((batch, len(hinge_index)), 0.15, dtype=dtype, requires_grad=True)
    shape_logit = torch.zeros(batch, len(body.shape_names), dtype=dtype, requires_grad=True)

    def assemble():
        pose = torch.zeros(batch, joints, 3, dtype=dtype)
        pose[:, 0] = root
        pose[:, free_index] = free
        pose[:, hinge_index] = hinge[..., None] * hinge_axes
        return torch.sigmoid(shape_logit), pose

    def losses(point_weight, prior_weight, robust_scale):
        sigma = robust_scale * image_size
        shape, pose = assemble()
        out = body.forward(shape, pose, transl)
        pixels = project(K_t, out.keypoints)
        residual_sq = ((pixels - target) ** 2).sum(-1)
        data = (point_weight * _gmof(residual_sq, sigma)).sum(-1) / point_weight.sum().clamp(min=1e-6)
        prior = prior_weight * (free**2).sum((-1, -2))
        shape_term = settings.shape_prior * ((shape - 0.5) ** 2).sum(-1)
        behind = torch.relu(0.5 - transl[:, 2]) ** 2 * 1e3
        per_start = data / sigma**2 + prior + shape_term + behind
        if points3d is not None:
            dirs = torch.nn.functional.normalize(out.keypoints[:, limb_b] - out.keypoints[:, limb_a], dim=-1)
            misalignment = (guide_weight * (1.0 - (dirs * guide_dirs).sum(-1))).sum(-1)
            per_start = per_start + settings.direction_weight * misalignment / guide_weight.sum().clamp(min=1e-6)
        return per_start, out, pixels

    stages = [("global", settings.global_steps, [root, transl], torso_weight,
               settings.pose_prior[0], settings.robust_scale[0])]
    stages += [
        ("body", steps, [root, transl, free, hinge, shape_logit], weight, prior, scale)
        for steps, prior, scale in zip(settings.body_steps, settings.pose_prior, settings.robust_scale)
    ]
    total = sum(s[1] for s in stages)
    done = 0
    for name, steps, params, point_weight, prior_weight, robust_scale in stages:
        optimizer = torch.optim.Adam(params, lr=settings.learning_rate)
        # Adam's steps jitter limbs by pixels at a fixed rate; anneal to settle each stage.
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps, eta_min=settings.learning_rate * 0.02)
        for step in range(steps):
            optimizer.zero_grad()
            per_start, _, _ = losses(point_weight, prior_weight, robust_scale)
            per_start.sum().backward()
            optimizer.step()
            schedule.step()
            with torch.no_grad():  # joint limits as a hard projection: hinges never bend backwards
                hinge.copy_(torch.minimum(hinge.clamp(min=0.0), hinge_max))
            done += 1
            if progress and (done % 10 == 0 or done == total):
                progress("fit", done, total, per_start.detach().min().item())
            if should_stop and should_stop():
                raise BridgeError("cancelled", "The fit was cancelled.", "")

    with torch.no_grad():
        per_start, out, pixels = losses(weight, settings.pose_prior[-1], settings.robust_scale[-1])
        best = int(per_start.argmin())
        shape, pose = assemble()
        confident = conf > 0
        errors = (pixels[best] - target).norm(dim=-1).numpy()
        result_out = BodyOutput(out.vertices[best:best + 1], out.keypoints[best:best + 1], out.bone_poses[best:best + 1])
        return FitResult(
            shape=shape[best].detach(),
            pose=pose[best].detach(),
            transl=transl[best].detach(),
            output=result_out,
            keypoint_error_px=float(errors[confident].mean()) if confident.any() else float("nan"),
        )
