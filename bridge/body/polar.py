"""The rotation nearest a 3x3 matrix (special Procrustes), with its gradient in closed form.

Anny's rest bone frames take this of one matrix per bone whenever the fit moves the shape,
so every step of most stages pays it. roma.special_procrustes gives the same rotations (Horn's
quaternion method, its gradient through a pseudo-inverse); one batched SVD and the polar
factor's derivative below take fewer operations (docs/decisions.md, "Warm bridge").
"""
from __future__ import annotations

import torch

# s_i + s_j of a rank-deficient matrix may vanish: its rotation has no defined gradient there.
_SMALLEST_SUM = 1e-8


class _SpecialPolar(torch.autograd.Function):
    @staticmethod
    def forward(ctx, matrices):
        u, s, vh = torch.linalg.svd(matrices)
        # A reflection is turned into a rotation by flipping the least singular direction.
        flip = torch.sign(torch.linalg.det(u) * torch.linalg.det(vh))
        s = torch.cat([s[..., :2], s[..., 2:] * flip[..., None]], -1)
        vh = torch.cat([vh[..., :2, :], vh[..., 2:, :] * flip[..., None, None]], -2)
        ctx.save_for_backward(u, s, vh)
        return u @ vh

    @staticmethod
    def backward(ctx, grad):
        # R = U V^T of M = U S V^T: dR = U W V^T with W_ij = (P_ij - P_ji) / (s_i + s_j), P = U^T dM V.
        u, s, vh = ctx.saved_tensors
        g = u.transpose(-1, -2) @ grad @ vh.transpose(-1, -2)
        sums = (s[..., :, None] + s[..., None, :]).clamp(min=_SMALLEST_SUM)
        return u @ ((g - g.transpose(-1, -2)) / sums) @ vh


def special_procrustes(matrices: torch.Tensor) -> torch.Tensor:
    """The rotation nearest each (..., 3, 3) matrix in the Frobenius norm (determinant +1)."""
    return _SpecialPolar.apply(matrices)
