"""What moves when a fitted body is adjusted after the fit: a fighter's state (the body
model's parameters) and the changes an optimiser makes to it, bone by bone, with knees and
elbows kept one-way hinges. Shared by refinement and contact resolution."""
from __future__ import annotations

from dataclasses import dataclass

import roma
import torch

from ..body import BodyModel

TRANSLATION_STEP = 0.2  # metres per radian of step: see PoseChanges.parameter_groups


@dataclass
class FighterState:
    """Where a fighter stands: the body model's own parameters (and, in raw-vertex mode, the
    vertices that no longer follow them)."""

    shape: torch.Tensor  # (S,)
    pose: torch.Tensor  # (J, 3)
    transl: torch.Tensor  # (3,)
    vertices: torch.Tensor | None = None  # (V, 3), raw-vertex mode



class PoseChanges:
    """The optimised changes from the starting state; bones not listed never move."""

    def __init__(self, body: BodyModel, start: FighterState, bones: list[str], orientation: bool, shape: bool):
        self.body, self.start = body, start
        hinges = {h.bone: h for h in body.hinges}
        self.hinge_bones = [b for b in bones if b in hinges]
        self.free_bones = [b for b in bones if b not in hinges and b != body.bone_names[0]]
        index = body.bone_names.index
        self.free_index = torch.tensor([index(b) for b in self.free_bones], dtype=torch.long)
        self.hinge_index = torch.tensor([index(b) for b in self.hinge_bones], dtype=torch.long)
        self.hinge_axes = torch.tensor([hinges[b].axis for b in self.hinge_bones], dtype=torch.float32).reshape(-1, 3)
        self.hinge_max = torch.tensor([hinges[b].max_angle for b in self.hinge_bones], dtype=torch.float32)
        self.hinge_start = (start.pose[self.hinge_index] * self.hinge_axes).sum(-1)
        self.free = torch.zeros(len(self.free_bones), 3, requires_grad=True)
        self.hinge = torch.zeros(len(self.hinge_bones), requires_grad=True)
        self.root = torch.zeros(3, requires_grad=orientation)
        self.transl = torch.zeros(3, requires_grad=orientation)
        self.shape_free = torch.zeros_like(start.shape, requires_grad=shape)

    def parameter_groups(self, learning_rate: float) -> list[dict]:
        """Rotations step by `learning_rate` radians; the placement by a fifth as many metres, as
        a step of 2 cm at 3 m moves the whole body further than 0.02 rad moves a limb."""
        groups = [{"params": [t for t in (self.free, self.hinge, self.root, self.shape_free) if t.requires_grad],
                   "lr": learning_rate}]
        if self.transl.requires_grad:
            groups.append({"params": [self.transl], "lr": learning_rate * TRANSLATION_STEP})
        return groups

    def state(self):
        """shape, pose and translation of the current guess (differentiable)."""
        start = self.start
        pose = start.pose.clone()
        pose[0] = roma.rotvec_composition([self.root, start.pose[0]])
        if len(self.free_bones):
            pose[self.free_index] = roma.rotvec_composition([self.free, start.pose[self.free_index]])
        if len(self.hinge_bones):
            pose[self.hinge_index] = roma.rotvec_composition([self.hinge[:, None] * self.hinge_axes,
                                                               start.pose[self.hinge_index]])
        shape = start.shape
        if self.shape_free.requires_grad:
            shape = self.body.shape_from_unconstrained(self.body.unconstrained_shape(start.shape) + self.shape_free)
        return shape, pose, start.transl + self.transl

    def prior(self) -> torch.Tensor:
        return (self.free**2).sum() + (self.hinge**2).sum() + (self.root**2).sum()

    def clamp(self) -> None:
        """Hinges stay within [0, max] as a whole (start plus change)."""
        with torch.no_grad():
            low, high = -self.hinge_start, self.hinge_max - self.hinge_start
            self.hinge.copy_(torch.maximum(torch.minimum(self.hinge, high), low.clamp(max=0.0)))
