"""`resolve-contact`: two fighters of a result folder moved apart where they pass through
each other (bridge.fitting.contact), and the folder written anew."""
from __future__ import annotations

import time

import torch

from ..errors import BridgeError
from ..messages import CONTACT_STEPS
from ..fitting.contact import resolve_contact
from ..geometry.penetration import interpenetration_m
from ..progress import Reporter
from ..result.store import check_out_folder, read_result
from .arguments import check_steps
from .result_folder import SceneJobReport, scene_inputs, complete_masks, load_scene, start_state, write_scene


def resolve_contact_scene(folder, out_dir=None, steps: int = CONTACT_STEPS, reporter: Reporter | None = None,
                          should_stop=None) -> SceneJobReport:
    """resolve_contact on a result folder (from the artist's poses where the add-on left them)."""
    reporter = reporter or Reporter()
    began = time.perf_counter()
    steps = check_steps(steps)
    source = read_result(folder)  # a broken source is reported as such, not as an output to refuse
    out, inputs = scene_inputs(folder, out_dir)
    check_out_folder(out, inputs)  # before any work
    result, photo, K, body = load_scene(folder, source)
    roles = list(result.fighters)
    if len(roles) != 2:
        raise BridgeError("needs_two_fighters", f"The result in {folder} holds {len(roles)} fighter(s); resolving "
                          "contact needs two.", "Reconstruct the photo with --people 2.")
    if "photos" in result.scene:
        raise BridgeError("contact_two_photos", "These fighters come from two photos; their keypoints do not share "
                          "one camera.", "They were already placed touching; adjust them in Blender.")
    states = [start_state(body, result, role) for role in roles]
    moved = resolve_contact(body, states, [result.fighters[r]["keypoints2d"] for r in roles],
                            [result.fighters[r]["keypoint_confidence"] for r in roles], K, photo.width, photo.height,
                            steps, progress=reporter.progress, should_stop=should_stop)
    masks = complete_masks(result, photo)
    with torch.no_grad():
        vertices = [body.forward(s.shape[None], s.pose[None], s.transl[None]).vertices[0].numpy() for s in moved]
    overlap = interpenetration_m(vertices[0].astype(float), vertices[1].astype(float), body.faces.numpy())
    record = {"contact": {"interpenetration_mm": round(1000 * overlap, 1), "steps": steps}}
    paths, _ = write_scene(result, out, photo, K, body, dict(zip(roles, moved)), masks, record, inputs)
    reporter.result(paths, contact=record["contact"])
    return SceneJobReport(paths, {}, time.perf_counter() - began, [])
