"""Differentiable rendering of a body mesh with Mitsuba 3, seen by the fitted OpenCV camera.

Mitsuba is optional: fitting never imports this module's renderer, and asking for it without
Mitsuba (or, on the CPU, without a usable libLLVM) fails with one line that says what to do.

Why this recipe: the mesh is an area emitter on black, so a pixel's value is how much of it the
body covers (the silhouette) or, with per-vertex colours, the body's colour there, with no
lighting to model. `direct_projective` with `sppi=0` differentiates only the visibility
boundaries, which is where the silhouette's gradient lives; interior sampling cost 20x more
and added nothing here. `sample_border` lets the boundary move across the frame
edge, so a crop of the photo (selective refinement by framing) still pulls limbs in from outside.
"""
from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import BridgeError

LLVM_PATHS = (
    "/usr/lib/x86_64-linux-gnu/libLLVM.so.19.1",
    "/usr/lib/x86_64-linux-gnu/libLLVM-19.so.1",
    "/usr/lib/aarch64-linux-gnu/libLLVM.so.19.1",
)
INSTALL_HINT = "Install the renderer with: .venv/bin/pip install mitsuba==3.9.1 drjit==1.5.0 (python build.py env does)."
LLVM_HINT = ("Install LLVM 19 (sudo apt-get install libllvm19) or point DRJIT_LIBLLVM_PATH at a libLLVM 15+ "
             "that works with drjit 1.5; or use --device cuda on an NVIDIA GPU.")
SAMPLES_PER_PIXEL = 2


@dataclass(frozen=True)
class View:
    """What the renderer sees: K scaled to the rendered pixels, and the part of the photo they
    cover (x0, y0, x1, y1 in photo pixels): the whole photo, or a crop for selective refinement."""

    K: np.ndarray  # intrinsics of the rendered image
    width: int
    height: int
    window: tuple[int, int, int, int]  # in photo pixels
    scale: float  # rendered pixels per photo pixel

    @classmethod
    def of_photo(cls, K: np.ndarray, photo_width: int, photo_height: int, resolution: int,
                 window: tuple[int, int, int, int] | None = None) -> "View":
        """A view of `window` (default: the whole photo) whose longer side is `resolution` pixels."""
        x0, y0, x1, y1 = window or (0, 0, photo_width, photo_height)
        scale = resolution / max(x1 - x0, y1 - y0)
        width, height = max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))
        K_view = np.array(K, dtype=np.float64)
        K_view[0, 2] -= x0
        K_view[1, 2] -= y0
        K_view[:2] *= np.array([[width / (x1 - x0)], [height / (y1 - y0)]])
        return cls(K_view, width, height, (x0, y0, x1, y1), scale)


def _variant_for(device: str) -> str:
    if device == "cuda":
        return "cuda_ad_rgb"
    if device == "cpu":
        return "llvm_ad_rgb"
    return "cuda_ad_rgb" if torch.cuda.is_available() else "llvm_ad_rgb"


@functools.lru_cache(maxsize=None)
def load_mitsuba(device: str = "auto"):
    """Mitsuba set to the variant for `device` (auto: CUDA when torch sees a GPU, else the CPU)."""
    variant = _variant_for(device)
    if variant.startswith("llvm") and not os.environ.get("DRJIT_LIBLLVM_PATH"):
        found = next((p for p in LLVM_PATHS if Path(p).exists()), None)
        if found:
            os.environ["DRJIT_LIBLLVM_PATH"] = found
    try:
        import drjit as dr
        import mitsuba as mi
    except ImportError:
        raise BridgeError("renderer_missing", "Refinement needs the Mitsuba 3 renderer, which is not installed.",
                          INSTALL_HINT) from None
    try:
        mi.set_variant(variant)
        mi.Float([0.0]) + 1  # forces the backend (libLLVM or CUDA) to load now, not mid-job
    except Exception as exc:  # drjit raises plain exceptions for a missing backend
        if variant.startswith("llvm"):
            raise BridgeError("llvm_missing", f"Mitsuba's CPU renderer cannot start: {str(exc).splitlines()[0]}",
                              LLVM_HINT) from None
        raise BridgeError("cuda_unavailable", f"Mitsuba's GPU renderer cannot start: {str(exc).splitlines()[0]}",
                          "Use --device cpu.") from None
    return mi, dr


class MeshRenderer:
    """Renders one mesh (fixed faces, moving vertices) for one view, differentiably from torch.

    `render(vertices, colours)` takes (V, 3) camera-space vertices and (V, 3) colours (torch,
    either may need grad) and returns an (H, W, 3) image on black: white colours give the
    silhouette (how much of each pixel the body covers)."""

    def __init__(self, faces: np.ndarray, view: View, device: str = "auto"):
        mi, dr = load_mitsuba(device)
        self.mi, self.dr, self.view = mi, dr, view
        faces = np.ascontiguousarray(faces, dtype=np.uint32)
        vertex_count = int(faces.max()) + 1
        props = mi.Properties()
        props["emitter"] = mi.load_dict({"type": "area",
                                         "radiance": {"type": "mesh_attribute", "name": "vertex_color"}})
        mesh = mi.Mesh("body", vertex_count, len(faces), props, has_vertex_normals=False,
                       has_vertex_texcoords=False)
        mesh.add_attribute("vertex_color", 3, [1.0] * (3 * vertex_count))
        params = mi.traverse(mesh)
        params["faces"] = mi.UInt32(faces.ravel())
        params["vertex_positions"] = mi.Float(np.zeros(3 * vertex_count, np.float32))
        params.update()
        self.scene = mi.load_dict({"type": "scene", "integrator": {"type": "direct_projective", "sppi": 0},
                                   "sensor": self._sensor(view), "body": mesh})
        self.params = mi.traverse(self.scene)
        self.params.keep(["body.vertex_positions", "body.vertex_color"])
        self.vertex_count = vertex_count
        self.renders = 0
        self._render = self._wrapped()

    def _sensor(self, view: View) -> dict:
        K, width, height = view.K, view.width, view.height
        return {
            "type": "perspective",
            "fov_axis": "x",
            "fov": math.degrees(2.0 * math.atan(width / (2.0 * K[0, 0]))),
            # Measured: Mitsuba shifts the image the other way round from OpenCV's principal point.
            "principal_point_offset_x": (width / 2.0 - K[0, 2]) / width,
            "principal_point_offset_y": (height / 2.0 - K[1, 2]) / height,
            "near_clip": 0.05,
            "far_clip": 100.0,
            # OpenCV's camera (x right, y down, z forward) is Mitsuba's looking along +z with -y up.
            "to_world": self.mi.ScalarTransform4f.look_at(origin=[0, 0, 0], target=[0, 0, 1], up=[0, -1, 0]),
            "film": {"type": "hdrfilm", "width": width, "height": height, "rfilter": {"type": "box"},
                     "sample_border": True, "pixel_format": "rgb"},
            "sampler": {"type": "independent", "sample_count": SAMPLES_PER_PIXEL},
        }

    def _wrapped(self):
        mi, dr, params, scene = self.mi, self.dr, self.params, self.scene

        @dr.wrap(source="torch", target="drjit")
        def render(positions, colours, seed: int, spp: int):
            params["body.vertex_positions"] = dr.ravel(positions)
            params["body.vertex_color"] = dr.ravel(colours)
            params.update()
            return mi.render(scene, params, seed=seed, spp=spp)

        return render

    def visible(self, vertices: torch.Tensor) -> np.ndarray:
        """(V,) bool: which vertices the camera sees (nothing of the mesh between them and it)."""
        mi, dr = self.mi, self.dr
        points = vertices.detach().cpu().numpy().astype(np.float32)
        self.params["body.vertex_positions"] = mi.Float(points.ravel())
        self.params.update()
        distance = np.linalg.norm(points, axis=1)
        direction = points / distance[:, None]
        ray = mi.Ray3f(mi.Point3f(0.0, 0.0, 0.0), mi.Vector3f(*(mi.Float(direction[:, i]) for i in range(3))))
        ray.maxt = mi.Float(distance * (1.0 - 1e-4) - 2e-3)  # stop just short of the vertex's own surface
        return ~np.array(self.scene.ray_test(ray), dtype=bool)

    def render(self, vertices: torch.Tensor, colours: torch.Tensor | None = None,
               samples: int = SAMPLES_PER_PIXEL) -> torch.Tensor:
        """`samples` per pixel: few while optimising (noise averages out over steps), more to measure."""
        if colours is None:
            colours = torch.ones_like(vertices)
        self.renders += 1  # a new seed each time: noise that averages out rather than a fixed bias
        image = self._render(vertices.float().contiguous(), colours.float().contiguous(), self.renders, samples)
        return image.to(vertices.device)


def warm_up(device: str = "auto") -> None:
    """Start the renderer's backend and compile its kernels on a small mesh, render and gradient,
    so a warm bridge's first Refine shows its first preview at once (bridge.serve's preload)."""
    faces = np.array([[0, 1, 2], [0, 3, 1], [0, 2, 3], [1, 3, 2]])
    view = View(np.array([[32.0, 0, 16], [0, 32.0, 16], [0, 0, 1]]), 32, 32, (0, 0, 32, 32), 1.0)
    renderer = MeshRenderer(faces, view, device)
    vertices = torch.tensor([[0, 0, 2.0], [0.3, 0, 2.0], [0, 0.3, 2.0], [0, 0, 2.3]], requires_grad=True)
    renderer.render(vertices).sum().backward()


def frontmost_body(K: np.ndarray, bodies: list[np.ndarray], faces: np.ndarray, width: int, height: int,
                   device: str = "auto") -> np.ndarray:
    """(H, W) int: which body (index into `bodies`, camera-space vertices) the camera sees at
    each pixel centre, -1 where none. Why: the order of two fighters where they overlap, pixel
    by pixel, is what the photo shows; a mean depth per body cannot say it."""
    cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    return body_seen_at(K, bodies, faces, np.stack([cols.ravel(), rows.ravel()], axis=1), device).reshape(height, width)


def body_seen_at(K: np.ndarray, bodies: list[np.ndarray], faces: np.ndarray, pixels: np.ndarray,
                 device: str = "auto") -> np.ndarray:
    """(N,) int: which body the camera sees at each of `pixels` ((N, 2), x and y in the photo's
    pixels), -1 where none: frontmost_body at a few pixels only."""
    mi, _ = load_mitsuba(device)
    faces = np.asarray(faces, dtype=np.uint32)
    vertices = np.concatenate(bodies).astype(np.float32)
    all_faces = np.concatenate([faces + i * len(bodies[0]) for i in range(len(bodies))])
    mesh = mi.Mesh("bodies", len(vertices), len(all_faces), has_vertex_normals=False, has_vertex_texcoords=False)
    params = mi.traverse(mesh)
    params["vertex_positions"] = mi.Float(vertices.ravel())
    params["faces"] = mi.UInt32(all_faces.ravel())
    params.update()
    scene = mi.load_dict({"type": "scene", "bodies": mesh})
    pixels = np.asarray(pixels, np.float64).reshape(-1, 2)
    rays = np.linalg.inv(K) @ np.stack([pixels[:, 0], pixels[:, 1], np.ones(len(pixels))])
    rays = (rays / np.linalg.norm(rays, axis=0)).astype(np.float32)
    hit = scene.ray_intersect_preliminary(mi.Ray3f(mi.Point3f(0.0, 0.0, 0.0), mi.Vector3f(*(mi.Float(r) for r in rays))))
    return np.where(np.isfinite(np.array(hit.t)), np.array(hit.prim_index, dtype=np.int64) // len(faces), -1)
