"""Contact resolution: two bodies moved, from where they stand, until they no longer pass
through each other, with keypoints and grips held (Resolve Contact in the add-on)."""
from __future__ import annotations

import numpy as np
import torch

from ..errors import BridgeError
from ..geometry.camera import project
from ..keypoints import CONFIDENT, PersonTarget
from ..messages import CONTACT_STEPS
from .fit import FIT_THREADS, FitSettings
from .losses import keypoint_loss
from .pair import pair_terms
from .state import FighterState, PoseChanges


def resolve_contact(body, states: list[FighterState], points: list[np.ndarray], confidence: list[np.ndarray],
                    K: np.ndarray, width: int, height: int, steps: int = CONTACT_STEPS, settings: FitSettings = FitSettings(),
                    progress=None, should_stop=None) -> list[FighterState]:
    """Move two bodies, from where they stand, until they no longer pass through each other and
    a hand that lies on the other fighter in the photo holds the other's body, while their
    keypoints stay on the photo's and their pose near where it started."""
    torch.set_num_threads(FIT_THREADS)
    faces = body.faces.numpy()
    bones = body.free_bones + [h.bone for h in body.hinges]
    changes = [PoseChanges(body, state, bones, orientation=True, shape=False) for state in states]
    with torch.no_grad():
        standing = [body.forward(s.shape[None], s.pose[None], s.transl[None]).vertices[0].numpy() for s in states]
    people = [PersonTarget(p, c) for p, c in zip(points, confidence)]
    terms = pair_terms(standing, people, faces, K, width, height)
    groups = [g for c in changes for g in c.parameter_groups(settings.pair_learning_rate)]
    optimiser = torch.optim.Adam(groups)
    K_t = torch.as_tensor(K, dtype=torch.float32)
    targets = [(torch.as_tensor(p, dtype=torch.float32),
                torch.as_tensor(np.where(c >= CONFIDENT, c, 0.0), dtype=torch.float32)) for p, c in zip(points, confidence)]
    sigma = settings.robust_scale[-1] * max(width, height)
    for step in range(steps):
        if should_stop and should_stop():
            raise BridgeError("cancelled", "Resolving the contact was cancelled.", "")
        optimiser.zero_grad()
        shapes, poses, transls = zip(*(c.state() for c in changes))
        out = body.forward(torch.stack(shapes), torch.stack(poses), torch.stack(transls))
        loss = terms.loss(out, settings)
        for index, (target, conf) in enumerate(targets):
            loss = loss + keypoint_loss(project(K_t, out.keypoints[index]), target, conf, sigma)
            loss = loss + settings.pose_prior[-1] * changes[index].prior()
        loss.backward()
        optimiser.step()
        for c in changes:
            c.clamp()
        if progress is not None:
            progress("contact", step + 1, steps, float(loss.detach()))
    with torch.no_grad():
        return [FighterState(*c.state()) for c in changes]
