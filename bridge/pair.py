"""Terms that hold between two fighters fitted in one camera: they may not pass through each
other, the one the photo shows in front stays in front, and a hand that grips the other stays
on the other's body.

Why these forms: the penetration term asks, for each vertex of one body near the other, on
which side of the other's nearest vertex (along its normal) it lies; that costs one k-d tree
query a step on the CPU, where a winding number over every face would cost seconds (the
benchmark measures the result with winding numbers, bridge.contact). Depth order compares
the two bodies' depths only where their silhouettes overlap, which is where the photo shows
who covers whom.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.spatial import cKDTree

from .camera import project
from .contact import vertex_normals
from .keypoints import INDEX
from .raster import silhouette_mask

CONTACT_M = 0.01  # fighters in contact: their nearest surfaces this close
GRIP_REACH_M = 0.06  # wrist keypoint to the gripped surface: the hand's own thickness
NEAR_SURFACE_M = 0.3  # vertices further than this from the other's surface are not tested (a torso is 0.3 m deep)
WRISTS = (INDEX["right_wrist"], INDEX["left_wrist"])
MIN_GRIP_CONFIDENCE = 0.3


def penetration_loss(vertices_a: torch.Tensor, vertices_b: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Sum of squared depths of a's vertices behind b's surface (a's vertices near b only)."""
    with torch.no_grad():
        b_np = vertices_b.detach().numpy()
        a_np = vertices_a.detach().numpy()
        lo, hi = b_np.min(0), b_np.max(0)
        candidates = np.flatnonzero(np.all((a_np >= lo) & (a_np <= hi), axis=1))
        if len(candidates) == 0:
            return vertices_a.sum() * 0.0
        distance, nearest = cKDTree(b_np).query(a_np[candidates], distance_upper_bound=NEAR_SURFACE_M)
        close = np.isfinite(distance)
        candidates, nearest = torch.as_tensor(candidates[close]), torch.as_tensor(nearest[close])
        normals = torch.as_tensor(vertex_normals(b_np, faces))[nearest]
    behind = ((vertices_a[candidates] - vertices_b[nearest]) * normals).sum(-1)
    return (torch.relu(-behind) ** 2).sum()


def overlap_front(vertices: list[np.ndarray], faces: np.ndarray, K: np.ndarray, width: int, height: int,
                  masks: list[np.ndarray] | None = None) -> tuple[int | None, np.ndarray]:
    """Which of two bodies is in front where their silhouettes overlap, and that overlap.

    With the fighters' masks from the photo, the one whose mask covers more of the overlap is
    in front (what the photo shows); without masks, the one nearer the camera there (what the
    bodies say). None when the silhouettes do not overlap."""
    silhouettes = [silhouette_mask(K, v, faces, width, height).astype(bool) for v in vertices]
    overlap = silhouettes[0] & silhouettes[1]
    if not overlap.any():
        return None, overlap
    if masks is not None:
        covered = [int((mask & overlap).sum()) for mask in masks]
        if covered[0] != covered[1]:
            return int(np.argmax(covered)), overlap
    depths = [_depth_in_region(torch.as_tensor(v), K, overlap) for v in vertices]
    return int(np.argmin([float(d) for d in depths])), overlap


def _depth_in_region(vertices: torch.Tensor, K: np.ndarray, region: np.ndarray) -> torch.Tensor:
    """Mean depth of the vertices that project into `region` (pixels), differentiable."""
    pixels = project(torch.as_tensor(K, dtype=vertices.dtype), vertices).detach().numpy()
    cols = np.clip(np.floor(pixels[:, 0]).astype(int), 0, region.shape[1] - 1)
    rows = np.clip(np.floor(pixels[:, 1]).astype(int), 0, region.shape[0] - 1)
    inside = region[rows, cols] & (pixels[:, 0] >= 0) & (pixels[:, 1] >= 0)
    if not inside.any():
        return vertices[:, 2].mean()
    return vertices[torch.as_tensor(inside), 2].mean()


def _gap(vertices_a: torch.Tensor, vertices_b: torch.Tensor) -> torch.Tensor:
    """Distance between the two bodies' nearest vertices, differentiable through that pair."""
    with torch.no_grad():
        distance, nearest = cKDTree(vertices_b.detach().numpy()).query(vertices_a.detach().numpy())
        closest = int(np.argmin(distance))
    return (vertices_a[closest] - vertices_b[int(nearest[closest])]).norm()


@dataclass
class PairTerms:
    """The joint stage's terms for two fighters (index 0 and 1).

    `in_front[i]` holds the pixels where the photo shows fighter i over the other (where both
    silhouettes fall and only i's mask covers), so depth order is asked for only where the photo
    says it, and may differ from place to place (a leg in front, a torso behind); `grips` pairs
    (person, wrist keypoint index) whose hand holds the other fighter. The fighters are in
    contact, so a gap between them costs too."""

    faces: torch.Tensor
    in_front: list[np.ndarray] | None = None
    grips: list[tuple[int, int]] = field(default_factory=list)

    def loss(self, out, K: torch.Tensor, settings) -> torch.Tensor:
        vertices = out.vertices
        total = settings.penetration_weight * (penetration_loss(vertices[0], vertices[1], self.faces)
                                               + penetration_loss(vertices[1], vertices[0], self.faces))
        if settings.contact_weight > 0:
            total = total + settings.contact_weight * torch.relu(_gap(vertices[0], vertices[1]) - CONTACT_M) ** 2
        if self.in_front is not None and settings.depth_order_weight > 0:
            K_np = K.numpy()
            for near, region in enumerate(self.in_front):
                if region.any():
                    gap = (_depth_in_region(vertices[near], K_np, region)
                           - _depth_in_region(vertices[1 - near], K_np, region))
                    total = total + settings.depth_order_weight * torch.relu(gap) ** 2
        for person, wrist in self.grips:
            other = vertices[1 - person]
            hand = out.keypoints[person, wrist]
            with torch.no_grad():
                nearest = int(torch.argmin(((other - hand) ** 2).sum(-1)))
            reach = (hand - other[nearest]).norm()
            total = total + settings.grip_weight * torch.relu(reach - GRIP_REACH_M) ** 2
        return total


def pair_terms(fits, people, faces: np.ndarray, K: np.ndarray, width: int, height: int,
               masks: list[np.ndarray] | None = None, grips: bool = True) -> PairTerms:
    """The joint stage's terms from two independent fits: where the photo shows which one in
    front (from the masks), and which wrists lie on the other's silhouette (grips)."""
    vertices = [fit.output.vertices[0].numpy() for fit in fits]
    silhouettes = [silhouette_mask(K, v, faces, width, height).astype(bool) for v in vertices]
    in_front = None
    if masks is not None:
        overlap = silhouettes[0] & silhouettes[1]
        in_front = [overlap & masks[i] & ~masks[1 - i] for i in range(2)]
    held = []
    if grips:
        for person, target in enumerate(people):
            for wrist in WRISTS:
                x, y = target.points[wrist]
                if (target.confidence[wrist] >= MIN_GRIP_CONFIDENCE and 0 <= x < width and 0 <= y < height
                        and silhouettes[1 - person][int(y), int(x)]):
                    held.append((person, wrist))
    return PairTerms(torch.as_tensor(faces), in_front, held)
