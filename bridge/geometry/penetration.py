"""How deep two bodies pass through each other: the one measure the fit, the scene generator
and the benchmark share.

Why winding numbers: the body meshes are closed, so a point is inside exactly when the solid
angle the surface subtends at it sums to 4 pi; unlike a nearest-normal test this stays right
in creases (armpits, crotch) where two bodies in contact meet. The depth of an inside point
is its distance to the nearest point of the other surface.
"""
from __future__ import annotations

import numpy as np
import torch

CHUNK = 96  # query points per batch: CHUNK x faces x 3 floats per tensor


def winding_numbers(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Generalised winding number of a closed mesh at each point: ~1 inside, ~0 outside."""
    if len(points) == 0:
        return np.zeros(0)
    tri = torch.as_tensor(vertices, dtype=torch.float32)[torch.as_tensor(faces, dtype=torch.long)]
    query = torch.as_tensor(points, dtype=torch.float32)
    total = []
    with torch.no_grad():
        for start in range(0, len(query), CHUNK):
            rel = tri[None] - query[start:start + CHUNK, None, None]  # (Q, F, 3, 3)
            a, b, c = rel[:, :, 0], rel[:, :, 1], rel[:, :, 2]
            la, lb, lc = a.norm(dim=-1), b.norm(dim=-1), c.norm(dim=-1)
            det = (a * torch.cross(b, c, dim=-1)).sum(-1)
            den = la * lb * lc + (a * b).sum(-1) * lc + (b * c).sum(-1) * la + (c * a).sum(-1) * lb
            total.append(torch.atan2(det, den).sum(-1) / (2 * np.pi))
    return torch.cat(total).numpy()


def vertex_normals(vertices: np.ndarray, faces: np.ndarray, at: np.ndarray | None = None) -> np.ndarray:
    """Area-weighted outward vertex normals of a consistently wound closed mesh; with `at`
    (vertex indices), those vertices' only, from the faces around them: (len(at), 3)."""
    faces = np.asarray(faces)
    if at is not None:
        around = np.zeros(len(vertices), bool)
        around[at] = True
        faces = faces[around[faces].any(1)]
    tri = np.asarray(vertices)[faces]
    face_normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    corners = faces.reshape(-1)
    normals = np.stack([np.bincount(corners, np.repeat(face_normals[:, axis], 3), len(vertices))
                        for axis in range(3)], 1)
    normals = normals if at is None else normals[at]
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)


def inside_mask(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray, near: float = 0.01,
                most: int | None = None) -> np.ndarray:
    """Which points lie inside the closed mesh.

    Winding numbers cost a pass over every face, so only the doubtful points pay it: those in
    the bounding box that lie behind their nearest vertex's normal or within `near` metres of
    it. A point clearly in front of the surface is outside. With `most`, at most that many
    doubtful points (evenly spread) are tried and the rest count as outside: a quick check."""
    lo, hi = vertices.min(0), vertices.max(0)
    boxed = np.flatnonzero(np.all((points >= lo) & (points <= hi), axis=1))
    inside = np.zeros(len(points), bool)
    if len(boxed) == 0:
        return inside
    from scipy.spatial import cKDTree  # scipy.spatial only where used

    distance, nearest = cKDTree(vertices).query(points[boxed])
    facing = ((points[boxed] - vertices[nearest]) * vertex_normals(vertices, faces, nearest)).sum(1)
    doubtful = boxed[(facing <= 0) | (distance < near)]
    if most is not None and len(doubtful) > most:
        doubtful = doubtful[::-(-len(doubtful) // most)]
    inside[doubtful] = winding_numbers(points[doubtful], vertices, faces) > 0.5
    return inside


def _distance_to_surface(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray, neighbours: int = 8) -> np.ndarray:
    """Distance from each point to the nearest point of the mesh surface, searched over the
    triangles around its nearest vertices (exact for meshes as fine as the bodies)."""
    import trimesh

    if len(points) == 0:
        return np.zeros(0)
    from scipy.spatial import cKDTree  # scipy.spatial only where used

    _, nearest = cKDTree(vertices).query(points, k=neighbours)
    vertex_faces = trimesh.Trimesh(vertices, faces, process=False).vertex_faces  # (V, max), -1 padded
    best = np.full(len(points), np.inf)
    for column in range(neighbours):
        around = vertex_faces[nearest[:, column]]
        for slot in range(around.shape[1]):
            face = around[:, slot]
            ok = face >= 0
            if not ok.any():
                continue
            closest = trimesh.triangles.closest_point(vertices[faces[face[ok]]], points[ok])
            best[ok] = np.minimum(best[ok], np.linalg.norm(closest - points[ok], axis=1))
    return best


def penetration_depths(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray,
                       most: int | None = None) -> np.ndarray:
    """How far each point lies inside the closed mesh (metres; 0 outside; `most`: inside_mask's)."""
    depths = np.zeros(len(points))
    inside = inside_mask(points, vertices, faces, most=most)
    depths[inside] = _distance_to_surface(points[inside], vertices, faces)
    return depths


def interpenetration_m(vertices_a: np.ndarray, vertices_b: np.ndarray, faces: np.ndarray,
                       most: int | None = None) -> float:
    """The deepest vertex of either body (one mesh topology) inside the other (metres; 0 when
    they only touch); with `most`, at most that many doubtful vertices per body are tried: a
    quick check whose cost is bounded however deep the bodies pass."""
    depth_a = penetration_depths(vertices_a, vertices_b, faces, most)
    depth_b = penetration_depths(vertices_b, vertices_a, faces, most)
    return float(max(depth_a.max(initial=0.0), depth_b.max(initial=0.0)))
