"""Keypoints of a linear-blend-skinned body without skinning its mesh.

Why: the keypoint stages of the fit only need the 25 BODY_25 points, yet skinning all of Anny's
13,718 vertices was most of each step. A keypoint is a fixed weighted sum of vertices, skinning is
linear in the rest vertices, and the rest vertices are linear in the blendshape coefficients, so
each keypoint is a sum over the few bones that move its vertices of that bone's transform applied
to a moment that is linear in the coefficients. The moments are computed once, from the model.
"""
from __future__ import annotations

import torch


class KeypointSkinning:
    """Moments of a keypoint regressor (K, V) under skin weights (V, J) and blendshapes (C, V, 3):
    for each (keypoint, bone) pair with any weight, W = sum_v R w (how much of the bone's
    translation the keypoint takes) and the weighted rest position A + coeffs @ S."""

    def __init__(self, regressor: torch.Tensor, skin_weights: torch.Tensor, template: torch.Tensor,
                 blendshapes: torch.Tensor):
        pairs_k, pairs_j, weights, rest, shapes = [], [], [], [], []
        for k in range(regressor.shape[0]):
            used = regressor[k].nonzero()[:, 0]
            # (v, j): this keypoint's share of each vertex, split over the vertex's bones
            share = regressor[k, used, None] * skin_weights[used]
            bones = share.abs().sum(0).nonzero()[:, 0]
            share = share[:, bones]
            pairs_k += [k] * len(bones)
            pairs_j.append(bones)
            weights.append(share.sum(0))
            rest.append(share.T @ template[used])
            shapes.append(torch.einsum("vj,cvd->cjd", share, blendshapes[:, used]))
        self.keypoint = torch.tensor(pairs_k)
        self.bone = torch.cat(pairs_j)
        self.weight = torch.cat(weights)  # (P,)
        self.rest = torch.cat(rest)  # (P, 3)
        self.shapes = torch.cat(shapes, 1)  # (C, P, 3)
        self.count = regressor.shape[0]
        self.row_sums = regressor.sum(1)  # (K,): how much of a translation each keypoint takes

    def keypoints(self, coeffs: torch.Tensor, bone_transforms, transl: torch.Tensor) -> torch.Tensor:
        """(B, K, 3) keypoints for blendshape coefficients (B, C), skinning transforms (posed bone
        frame times inverse rest frame) as a (rotation (B, J, 3, 3), translation (B, J, 3)) pair,
        and a translation (B, 3) added to every vertex."""
        rotation, translation = bone_transforms
        rest = self.rest + torch.einsum("bc,cpd->bpd", coeffs, self.shapes)
        per_pair = ((rotation[:, self.bone] @ rest[..., None])[..., 0]
                    + translation[:, self.bone] * self.weight[:, None])
        out = torch.zeros(len(coeffs), self.count, 3, dtype=per_pair.dtype)
        out = out.index_add(1, self.keypoint, per_pair)
        return out + self.row_sums[:, None] * transl[:, None, :]
