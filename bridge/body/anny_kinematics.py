"""Anny's forward kinematics ('local-ref' pose parameters) in a few batched products.

Why: each fit step poses the skeleton, and Anny's own chain goes depth level by depth level (17
levels, a dozen small operations each, recorded for the gradient); at the fit's batch sizes the
cost is the count of operations, not their size. Here every bone's local transform K_c is built
at once, as in Anny (anny.utils.kinematics.forward_kinematic), and the chain W_c = W_parent K_c is
resolved by pointer doubling: after round k each bone holds the product of its 2^k nearest
ancestors' transforms, so 5 rounds cover the 17 levels. Products are associated differently from
Anny's, so results agree to float precision (tests/test_fit.py checks it against Anny's).
"""
from __future__ import annotations

import torch


def _compose(rotation_a, translation_a, rotation_b, translation_b):
    """(a o b): x -> Ra (Rb x + tb) + ta."""
    return rotation_a @ rotation_b, (rotation_a @ translation_b[..., None])[..., 0] + translation_a


class AnnyKinematics:
    """For a rigged Anny model whose pose parameterisation is 'local-ref'."""

    def __init__(self, model):
        if model.pose_parameterization != "local-ref":
            raise ValueError(f"unsupported pose parameterisation {model.pose_parameterization!r}")
        parents = [int(p) for p in model.bone_parents]
        count = len(parents)
        self.parent = torch.tensor([0] + parents[1:])
        reference = model.reference_bone_orientations
        dtype = model.template_vertices.dtype
        if reference is None:
            raise ValueError("Anny without reference orientations is not supported here")
        self.reference = reference.to(dtype)  # U (J, 3, 3)
        self.parent_reference_t = self.reference[self.parent].transpose(-1, -2)  # U_p^T
        self.root_reference_t = self.reference[0].transpose(-1, -2)
        # Pointer doubling: position `count` is the identity, where the root's pointer goes.
        pointer = torch.tensor([count] + parents[1:] + [count])
        depth = [0] * count
        for bone in range(1, count):
            depth[bone] = depth[parents[bone]] + 1
        self.rounds = []
        reach = 1
        while reach <= max(depth):
            self.rounds.append(pointer)
            pointer = pointer[pointer]
            reach *= 2
        self.count = count

    def transforms(self, rotations: torch.Tensor, rest_bone_poses: torch.Tensor):
        """Skinning transforms T = W P^-1 and posed bone frames W, as (rotation (B, J, 3, 3),
        translation (B, J, 3)) pairs, for bone rotations (B, J, 3, 3) (Anny's delta transforms
        without translation) and rest frames P (B or 1, J, 4, 4)."""
        rest_rotation, heads = rest_bone_poses[..., :3, :3], rest_bone_poses[..., :3, 3]
        batch = rotations.shape[0]
        rest_rotation = rest_rotation.expand(batch, -1, -1, -1)
        heads = heads.expand(batch, -1, -1)
        # Reference head offsets q_c - q_p = A_p (h_c - h_p), A = U R^T (the root's: I).
        turn = self.reference[1:] @ rest_rotation[:, 1:].transpose(-1, -2)
        turn = torch.cat([torch.eye(3, dtype=turn.dtype).expand(batch, 1, 3, 3), turn], 1)
        offsets = (turn[:, self.parent] @ (heads - heads[:, self.parent])[..., None])[..., 0]
        # K_c = [U_p^T D_c U_c | U_p^T (q_c - q_p)]; the root's W_0 = [U_0^T D_0 U_0 | 0].
        turned = rotations @ self.reference
        local_rotation = self.parent_reference_t @ turned
        local_translation = (self.parent_reference_t @ offsets[..., None])[..., 0]
        root = self.root_reference_t @ turned[:, 0]
        local_rotation = torch.cat([root[:, None], local_rotation[:, 1:],
                                    torch.eye(3, dtype=root.dtype).expand(batch, 1, 3, 3)], 1)
        local_translation = torch.cat([torch.zeros_like(local_translation[:, :1]), local_translation[:, 1:],
                                       torch.zeros_like(local_translation[:, :1])], 1)
        rotation, translation = local_rotation, local_translation
        for pointer in self.rounds:
            rotation, translation = _compose(rotation[:, pointer], translation[:, pointer], rotation, translation)
        rotation, translation = rotation[:, :self.count], translation[:, :self.count]
        # T_c = W_c P_c^-1 = [V_c R_c^T | w_c - V_c R_c^T h_c].
        skin_rotation = rotation @ rest_rotation.transpose(-1, -2)
        skin_translation = translation - (skin_rotation @ heads[..., None])[..., 0]
        return (skin_rotation, skin_translation), (rotation, translation)
