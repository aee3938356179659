"""Refinement by differentiable rendering: the paper's "upstream parameter optimisation".

The fitted body is rendered by Mitsuba from the photo's camera and compared with the photo;
the error flows back through the renderer and the body model into the pose. Losses: the
silhouette against the fighter's mask, optionally the paper's RGB L2 against the photo, the
fit's keypoint reprojection, and an L2 prior on the changes from the starting pose (Adam, prior
0.3, RGB off, pixels only the other fighter covers ignored: measured in docs/decisions.md,
"Refinement"). Selective refinement moves only a part's bones, or only what a window of the
photo shows.
"""
from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch

from ..body import BodyModel
from ..errors import BridgeError
from ..fitting.losses import keypoint_loss
from ..fitting.state import FighterState, PoseChanges
from ..geometry.camera import project
from ..keypoints import CONFIDENT
from ..metrics import image_error_percent, keypoint_error_px, silhouette_error
from ..result.store import write_image
from .settings import RefineSettings  # noqa: F401 (owned there: torch-free, for the CLI's defaults)
from .render import MeshRenderer, View

Progress = Callable[..., None]
MEASURE_SAMPLES = 16  # per pixel, for the errors reported before and after (2 while optimising)


@dataclass
class RefineTarget:
    """What one fighter is compared with, all in the photo's pixels."""

    rgb: np.ndarray  # (H, W, 3) uint8 photo
    mask: np.ndarray  # (H, W) bool, this fighter
    other_mask: np.ndarray | None  # (H, W) bool, the other fighter: unknown pixels for this one
    points: np.ndarray  # (25, 2)
    confidence: np.ndarray  # (25,)


@dataclass
class RefineStats:
    iterations: int
    seconds: float
    silhouette_error: tuple[float, float]  # before, after: 1 - IoU against the mask, in the view
    image_error: tuple[float, float]  # before, after: the paper's L2 in % of H x W x C
    keypoint_error_px: float
    moved_bones: list[str] = field(default_factory=list)

    @property
    def iterations_per_second(self) -> float:
        return self.iterations / max(self.seconds, 1e-9)


def part_bones(body: BodyModel, part: str | None, bones: list[str] | None) -> list[str] | None:
    """The bones a selective refinement may move (None: the whole body)."""
    if part is None and not bones:
        return None
    chosen = list(bones or [])
    if part is not None:
        if part not in body.parts:
            raise BridgeError("unknown_part", f"There is no body part called '{part}'.",
                              f"Use one of: {', '.join(sorted(body.parts))}.")
        chosen += body.parts[part]
    unknown = [b for b in chosen if b not in body.bone_names]
    if unknown:
        raise BridgeError("unknown_bone", f"The body model has no bone called {', '.join(unknown)}.",
                          "Bone names are those of the armature in Blender (fighter_<role>.npz bone_names).")
    return sorted(set(chosen), key=body.bone_names.index)


def vertex_colours(renderer: MeshRenderer, vertices: torch.Tensor, photo: np.ndarray, K_photo: np.ndarray,
                   mask: np.ndarray) -> torch.Tensor:
    """The photo's colour under each vertex the camera sees (the RGB loss's texture); vertices it
    does not see take the fighter's median colour."""
    pixels = project(K_photo, vertices.detach().numpy())
    height, width = mask.shape
    col = np.clip(np.round(pixels[:, 0] - 0.5), 0, width - 1).astype(int)
    row = np.clip(np.round(pixels[:, 1] - 0.5), 0, height - 1).astype(int)
    seen = renderer.visible(vertices.detach()) & mask[row, col]
    rgb = photo.astype(np.float32) / 255.0
    median = np.median(rgb[mask], axis=0) if mask.any() else np.full(3, 0.5, np.float32)
    colours = np.tile(median, (len(vertices), 1))
    colours[seen] = rgb[row[seen], col[seen]]
    return torch.as_tensor(colours, dtype=torch.float32)


def _window_image(image: np.ndarray, view: View, interpolation=cv2.INTER_AREA) -> np.ndarray:
    x0, y0, x1, y1 = view.window
    return cv2.resize(image[y0:y1, x0:x1], (view.width, view.height), interpolation=interpolation)


def _normal_consistency(vertices: torch.Tensor, faces: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    """1 - cos between the normals of faces that share an edge: keeps raw vertices a surface."""
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    normals = torch.nn.functional.normalize(torch.linalg.cross(b - a, c - a), dim=-1)
    return (1.0 - (normals[pairs[:, 0]] * normals[pairs[:, 1]]).sum(-1)).mean()


def _adjacent_faces(faces: np.ndarray) -> torch.Tensor:
    import trimesh

    mesh = trimesh.Trimesh(np.zeros((int(faces.max()) + 1, 3)), faces, process=False)
    return torch.as_tensor(np.array(mesh.face_adjacency), dtype=torch.long)


def _preview(path: Path, rendered: np.ndarray, target: np.ndarray) -> str:
    """rendering | photo | error, side by side, replaced atomically so a reader never sees half."""
    error = np.abs(rendered - target).mean(-1, keepdims=True) * np.array([1.0, 0.3, 0.3])
    strip = np.concatenate([rendered, target, np.clip(error * 2, 0, 1)], axis=1)
    strip = (np.clip(strip, 0, 1) * 255).astype(np.uint8)
    temporary = path.with_suffix(".tmp.png")
    write_image(temporary, cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))  # not cv2.imwrite: it crashes on some byte paths
    os.replace(temporary, path)
    return str(path)


def refine_fighter(body: BodyModel, start: FighterState, target: RefineTarget, K: np.ndarray,
                   settings: RefineSettings = RefineSettings(), bones: list[str] | None = None,
                   window: tuple[int, int, int, int] | None = None, device: str = "auto",
                   progress: Progress | None = None, should_stop: Callable[[], bool] | None = None,
                   preview_path: Path | None = None, skin_weights: np.ndarray | None = None,
                   stage: str = "refine") -> tuple[FighterState, RefineStats]:
    """Refine one fighter against the photo; returns the new state and what changed.

    `bones` (part_bones) restricts what moves and which pixels count; `window` (x0, y0, x1, y1
    in photo pixels) renders only that part of the photo, and only bones seen in it move."""
    height, width = target.mask.shape
    view = View.of_photo(K, width, height, settings.resolution, window)
    faces = body.faces.numpy()
    renderer = MeshRenderer(faces, view, device)
    with torch.no_grad():
        start_vertices = start.vertices if start.vertices is not None else \
            body.forward(start.shape[None], start.pose[None], start.transl[None]).vertices[0]

    mask = _window_image(target.mask.astype(np.float32), view)
    weight = np.ones_like(mask)
    if target.other_mask is not None:
        other = _window_image(target.other_mask.astype(np.float32), view)
        weight[(other > 0.5) & (mask < 0.5)] = 0.0
    photo = _window_image(target.rgb, view).astype(np.float32) / 255.0
    photo_target = photo * mask[..., None]

    points = (target.points - np.array(view.window[:2])) * view.scale
    conf = np.where(target.confidence >= CONFIDENT, target.confidence, 0.0)
    inside = (points[:, 0] >= 0) & (points[:, 1] >= 0) & (points[:, 0] < view.width) & (points[:, 1] < view.height)
    conf = conf * inside

    skin = None if skin_weights is None else np.asarray(skin_weights).argmax(axis=1)  # each vertex's main bone
    movable = _moving_bones(body, bones, window, skin, view, start_vertices)
    if movable is not None and skin is not None:
        near, on_part = _part_region(body, movable, skin, renderer, start_vertices)
        weight, conf = weight * near, conf * on_part

    orientation = settings.orientation and movable is None
    deltas = PoseChanges(body, start, movable if movable is not None else
                     body.free_bones + [h.bone for h in body.hinges], orientation, settings.shape and movable is None)
    offsets = None
    if settings.raw_vertices:
        offsets = torch.zeros_like(start_vertices, requires_grad=True)
        params = [offsets]
        face_pairs = _adjacent_faces(faces)
        faces_t = body.faces
    else:
        params = deltas.parameter_groups(settings.learning_rate)
    learning_rate = settings.learning_rate * (0.01 if settings.raw_vertices else 1.0)
    optimiser = torch.optim.Adam(params, lr=learning_rate)
    # Steps shrink linearly to a tenth: Adam's early steps are as large for noise as for signal.
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: 1.0 - 0.9 * step / max(settings.iterations, 1))

    mask_t, weight_t = torch.as_tensor(mask), torch.as_tensor(weight)
    photo_t = torch.as_tensor(photo_target)
    points_t, conf_t = torch.as_tensor(points, dtype=torch.float32), torch.as_tensor(conf, dtype=torch.float32)
    sigma = settings.keypoint_sigma * max(view.width, view.height)
    K_view = torch.as_tensor(view.K, dtype=torch.float32)
    colours = vertex_colours(renderer, start_vertices, target.rgb, K, target.mask) if settings.rgb_weight > 0 \
        or preview_path is not None else None
    mask_area = float((weight * mask).sum()) or 1.0

    def evaluate():
        if offsets is not None:
            vertices = start_vertices + offsets
            keypoints = body.keypoints_of(vertices[None])[0]
        else:
            shape, pose, transl = deltas.state()
            out = body.forward(shape[None], pose[None], transl[None])
            vertices, keypoints = out.vertices[0], out.keypoints[0]
        return vertices, keypoints

    def measure(vertices):
        with torch.no_grad():
            silhouette = renderer.render(vertices, samples=MEASURE_SAMPLES)[..., 0].numpy()
            rendered = renderer.render(vertices, colours, MEASURE_SAMPLES).numpy() if colours is not None else None
        image_error = image_error_percent(rendered, photo_target) if rendered is not None else float("nan")
        return silhouette_error(silhouette, mask, weight), image_error, rendered

    with torch.no_grad():
        vertices0, _ = evaluate()
    sil_before, image_before, rendered0 = measure(vertices0)
    total = settings.iterations
    if progress is not None and preview_path is not None and rendered0 is not None:
        progress(stage, 0, total, None, _preview(preview_path, rendered0, photo_target))  # where it starts, at once
    began = time.perf_counter()
    for step in range(total):
        if should_stop and should_stop():
            raise BridgeError("cancelled", "The refinement was cancelled.", "")
        optimiser.zero_grad()
        vertices, keypoints = evaluate()
        loss = torch.zeros(())
        if settings.silhouette_weight > 0:
            silhouette = renderer.render(vertices)[..., 0]
            loss = loss + settings.silhouette_weight * (weight_t * (silhouette - mask_t) ** 2).sum() / mask_area
        rendered = None
        if settings.rgb_weight > 0:
            rendered = renderer.render(vertices, colours)
            loss = loss + settings.rgb_weight * (weight_t[..., None] * (rendered.clamp(0, 1) - photo_t) ** 2).sum() \
                / (3 * mask_area)
        if settings.keypoint_weight > 0 and conf_t.sum() > 0:
            loss = loss + settings.keypoint_weight * keypoint_loss(project(K_view, keypoints), points_t, conf_t, sigma)
        if offsets is not None:
            loss = loss + settings.normal_weight * _normal_consistency(vertices, faces_t, face_pairs)
        else:
            loss = loss + settings.prior_weight * deltas.prior()
        loss.backward()
        optimiser.step()
        schedule.step()
        deltas.clamp()
        if progress is not None:
            preview = None
            if preview_path is not None and (step % settings.preview_every == 0 or step == total - 1):
                shown = rendered if rendered is not None else renderer.render(vertices.detach(), colours)
                preview = _preview(preview_path, shown.detach().numpy(), photo_target)
            progress(stage, step + 1, total, float(loss.detach()), preview)
    seconds = time.perf_counter() - began

    with torch.no_grad():
        vertices, keypoints = evaluate()
        shape, pose, transl = deltas.state()
    sil_after, image_after, _ = measure(vertices)
    kp = project(K, keypoints.detach().numpy())
    kp_error = keypoint_error_px(kp, target.points, target.confidence >= CONFIDENT)
    moved = (deltas.free_bones + deltas.hinge_bones) if offsets is None else []
    state = FighterState(shape.detach(), pose.detach(), transl.detach(),
                         vertices.detach() if offsets is not None else None)
    return state, RefineStats(total, seconds, (sil_before, sil_after), (image_before, image_after), kp_error, moved)


def _children(body: BodyModel) -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for j, parent in enumerate(body.bone_parents):
        children.setdefault(parent, []).append(j)
    return children


def _with_descendants(body: BodyModel, bones: list[str]) -> list[str]:
    """The bones and everything they carry (moving a thigh moves the foot's pixels too)."""
    children = _children(body)
    stack = [body.bone_names.index(b) for b in bones]
    found = set(stack)
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return [body.bone_names[j] for j in sorted(found)]


def _has_seen_descendant(body: BodyModel, bone: str, seen: set[str]) -> bool:
    return any(b in seen for b in _with_descendants(body, [bone]))


def _moving_bones(body: BodyModel, bones, window, skin, view: View, vertices: torch.Tensor) -> list[str] | None:
    """The bones a refinement moves: the chosen ones, and with a framing only those it sees
    (or that carry what it sees); None for the whole body."""
    if bones is None and window is None:
        return None
    moving = set(bones) if bones is not None else set(body.free_bones) | {h.bone for h in body.hinges}
    if window is not None and skin is not None:
        seen = project(view.K, vertices.numpy())
        in_view = (seen[:, 0] >= 0) & (seen[:, 1] >= 0) & (seen[:, 0] < view.width) & (seen[:, 1] < view.height)
        seen_bones = {body.bone_names[j] for j in np.unique(skin[in_view])}
        moving = {b for b in moving if b in seen_bones or _has_seen_descendant(body, b, seen_bones)}
    return sorted(moving, key=body.bone_names.index)


def _part_region(body: BodyModel, bones: list[str], skin: np.ndarray, renderer: MeshRenderer,
                 vertices: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Where a part's loss counts: pixels near where its vertices render now, and (25,) 1 for
    the keypoints that sit on it (most of their regression weight on its vertices)."""
    part_vertices = np.isin(skin, [body.bone_names.index(b) for b in _with_descendants(body, bones)])
    colours = torch.zeros(len(vertices), 3)
    colours[torch.as_tensor(part_vertices)] = 1.0
    part_map = renderer.render(vertices, colours)[..., 0].numpy() > 0.25
    view = renderer.view
    radius = max(2, round(0.06 * max(view.width, view.height)))
    near = cv2.dilate(part_map.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2))
    regressor = body.body25_regressor.numpy()
    on_part = (regressor * part_vertices[None]).sum(1) / np.clip(regressor.sum(1), 1e-9, None)
    return near.astype(np.float32), (on_part > 0.5).astype(np.float32)


def preview_folder(job: str) -> Path:
    """Where a job's preview PNGs go: the system's temporary folder, one per process."""
    folder = Path(tempfile.gettempdir()) / "golden-score-previews" / f"{job}-{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
