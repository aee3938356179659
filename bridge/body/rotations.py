"""Two of roma's rotation functions in fewer tensor operations, for the fit's every step.

Anny's rest bone frames take the rotation nearest a 3x3 matrix per bone whenever the fit moves
the shape, and its chain a rotation matrix per bone's rotation vector whenever it moves the pose.
Each step is a few hundred small operations, so their count is the fit's time. roma's functions
give the same values (to float precision, tested); these take about half the operations
(docs/decisions.md, "Warm bridge").
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


# K_ij = -e_ijk v_k: the cross-product matrix of a vector, in one einsum.
_LEVI_CIVITA = torch.zeros(3, 3, 3)
for _i, _j, _k in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
    _LEVI_CIVITA[_i, _j, _k], _LEVI_CIVITA[_j, _i, _k] = -1.0, 1.0
_EYE = torch.eye(3)


def rotvec_to_rotmat(rotvec: torch.Tensor, epsilon: float = 1e-6) -> torch.Tensor:
    """Rotation matrices (..., 3, 3) of rotation vectors (..., 3), as roma.rotvec_to_rotmat:
    Rodrigues' formula, R = cos t I + sin t / t K + (1 - cos t) / t^2 v v^T, and I + K (first
    order) for angles t under `epsilon`."""
    theta = torch.linalg.vector_norm(rotvec, dim=-1)[..., None, None]  # its gradient at 0 is 0
    small = theta < epsilon
    safe = torch.where(small, torch.ones_like(theta), theta)
    cos, sin = torch.cos(safe), torch.sin(safe)
    cos_part = torch.where(small, torch.ones_like(theta), cos)
    sin_part = torch.where(small, torch.ones_like(theta), sin / safe)
    outer_part = torch.where(small, torch.zeros_like(theta), (1.0 - cos) / (safe * safe))
    cross = torch.einsum("ijk,...k->...ij", _LEVI_CIVITA.to(rotvec.dtype), rotvec)
    outer = rotvec[..., :, None] * rotvec[..., None, :]
    return cos_part * _EYE.to(rotvec.dtype) + sin_part * cross + outer_part * outer
