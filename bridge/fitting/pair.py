"""Two fighters fitted in one camera: terms that keep them from passing through each other and
keep a gripping hand on the other's body, and which of them the photo shows in front.

Penetration is tested per vertex against the other body's nearest vertex and normal (one k-d
tree query a step; the benchmark measures with winding numbers, bridge.geometry.penetration). The
fit tests about a tenth of each body's vertices, spread evenly (contact_sample), and poses only
those and the ones they meet.
Front and back are read where the two silhouettes overlap: which fighter's colours the photo
shows there, else which body is nearer. What was measured and left out: docs/decisions.md,
"The joint stage of two fighters".
"""
from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch

from ..geometry.camera import project
from ..geometry.penetration import vertex_normals
from ..geometry.surface_sample import even_sample
from ..geometry.raster import covers, silhouette_mask
from ..imaging.colours import colour_vote, fighter_colour_models
from ..keypoints import CONFIDENT, INDEX

GRIP_REACH_M = 0.06  # wrist keypoint to the gripped surface: the hand's own thickness
NEAR_SURFACE_M = 0.3  # vertices further than this from the other's surface are not tested (a torso is 0.3 m deep)
WRISTS = (INDEX["right_wrist"], INDEX["left_wrist"])
PHOTO_DECIDES = 0.15  # the least |photo_front_margin| that overrules the bodies' depths (see photo_front_margin)


# The fit's joint stage finds each vertex's nearest vertex on the other body anew every this
# many steps (the k-d trees and the whole posed meshes it needs cost more than a step); between,
# the bodies move a few millimetres and the same pairs hold. Fewer refreshes left bodies in each
# other (docs/decisions.md, "Warm bridge"); resolving the contact of an artist's pose refreshes
# every step.
CLOSEST_REFRESH_STEPS = 4


# The joint stage tests about one vertex of each body per cube of this side (contact_sample)
# against the other's whole surface.
CONTACT_CELL_M = 0.03
# Tested that thinly, each tested vertex keeps this far out of the other body: the untested ones
# between may lie a little deeper.
THINNED_MARGIN_M = 0.005


@functools.lru_cache(maxsize=2)
def contact_sample(body) -> np.ndarray:
    """The vertices of the body the joint stage tests against the other: spread evenly over its
    surface at rest, each cube's kept per bone that moves it most (bridge.geometry.surface_sample)."""
    shape = body.default_shape()
    with torch.no_grad():
        rest = body.forward(shape, torch.zeros(1, len(body.bone_names), 3), torch.zeros(1, 3)).vertices[0].numpy()
    return even_sample(rest, CONTACT_CELL_M, body.rest_skeleton(shape[0])["skin_weights"].argmax(1))


@dataclass
class Closest:
    """Vertices of body a near body b's surface, the nearest vertex of b to each, and its normal."""

    vertices: torch.Tensor
    nearest: torch.Tensor
    normals: torch.Tensor


def _no_pairs() -> Closest:
    empty = torch.zeros(0, dtype=torch.long)
    return Closest(empty, empty, torch.zeros(0, 3))


def closest_surface(vertices_a: torch.Tensor, vertices_b: torch.Tensor, faces: torch.Tensor) -> Closest:
    """Which of a's vertices lie within NEAR_SURFACE_M of b, paired with b's nearest vertex."""
    with torch.no_grad():
        b_np = vertices_b.detach().numpy()
        a_np = vertices_a.detach().numpy()
        lo, hi = b_np.min(0), b_np.max(0)
        candidates = np.flatnonzero(np.all((a_np >= lo) & (a_np <= hi), axis=1))
        if len(candidates) == 0:
            return _no_pairs()
        from scipy.spatial import cKDTree  # scipy.spatial only where used

        # Only b's vertices within NEAR_SURFACE_M of the candidates' box can be any one's match.
        queries = a_np[candidates]
        reach = np.flatnonzero(np.all((b_np >= queries.min(0) - NEAR_SURFACE_M)
                                      & (b_np <= queries.max(0) + NEAR_SURFACE_M), axis=1))
        if len(reach) == 0:
            return _no_pairs()
        distance, nearest = cKDTree(b_np[reach]).query(queries, distance_upper_bound=NEAR_SURFACE_M)
        close = np.isfinite(distance)
        nearest = reach[nearest[close]]
        return Closest(torch.as_tensor(candidates[close]), torch.as_tensor(nearest),
                       torch.as_tensor(vertex_normals(b_np, faces, nearest), dtype=vertices_b.dtype))


def penetration_loss(vertices_a: torch.Tensor, vertices_b: torch.Tensor, faces: torch.Tensor,
                     closest: Closest | None = None, margin: float = 0.0) -> torch.Tensor:
    """Sum of squared depths of a's vertices behind b's surface, or less than `margin` in front of
    it (a's vertices near b only), with the pairs of `closest` when given (closest_surface)."""
    closest = closest or closest_surface(vertices_a, vertices_b, faces)
    behind = ((vertices_a[closest.vertices] - vertices_b[closest.nearest]) * closest.normals).sum(-1)
    return (torch.relu(margin - behind) ** 2).sum()


def silhouette_overlap(vertices: list[np.ndarray], faces: np.ndarray, K: np.ndarray, width: int,
                       height: int) -> np.ndarray:
    """(H, W) bool: the pixels both bodies cover in the photo."""
    first, second = (silhouette_mask(K, v, faces, width, height).astype(bool) for v in vertices)
    return first & second


def photo_front(rgb: np.ndarray, masks: list[np.ndarray], region: np.ndarray) -> int | None:
    """The fighter (0 or 1) the photo shows in `region`, or None where its colours cannot tell
    (|photo_front_margin| under PHOTO_DECIDES)."""
    margin = photo_front_margin(rgb, masks, region)
    return None if abs(margin) < PHOTO_DECIDES else int(margin < 0)


def photo_front_margin(rgb: np.ndarray, masks: list[np.ndarray], region: np.ndarray) -> float:
    """How clearly the photo shows fighter 0 (towards +1) rather than fighter 1 (towards -1) in
    `region`: the pixels of the region that either mask claims vote by colour (bridge.imaging.colours).

    Why: GrabCut's masks both claim the overlap, so counting which covers more of it says little;
    the gis' colours do (docs/decisions.md, "The joint stage of two fighters")."""
    models = fighter_colour_models(rgb, masks)
    if models is None:
        return 0.0
    return colour_vote(rgb, models, region & (masks[0] | masks[1]))


def depth_in_region(vertices: np.ndarray, K: np.ndarray, region: np.ndarray) -> float:
    """Mean depth of the vertices that project into `region` (pixels)."""
    pixels = project(K, vertices)
    cols = np.clip(np.floor(pixels[:, 0]).astype(int), 0, region.shape[1] - 1)
    rows = np.clip(np.floor(pixels[:, 1]).astype(int), 0, region.shape[0] - 1)
    inside = region[rows, cols] & (pixels[:, 0] >= 0) & (pixels[:, 1] >= 0)
    return float(vertices[inside, 2].mean() if inside.any() else vertices[:, 2].mean())


@functools.lru_cache(maxsize=1)
def _pairing_pool() -> ThreadPoolExecutor:
    """Two threads for PairTerms.find, made once: it runs every few steps of every joint stage."""
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="closest")


@dataclass
class PairTerms:
    """The joint stage's terms for two fighters (index 0 and 1); `grips` pairs (person, wrist
    keypoint index) whose hand holds the other fighter.

    With `queries` (vertex indices, contact_sample's), only those vertices of each body are
    tested against the other's whole surface, and the loss needs only them and the other's
    vertices they meet: `find(full posed output)` pairs them anew and sets `index`, the vertices
    the next outputs must hold (BodyModel.forward_sample). Each tested vertex then weighs as
    many of the mesh's as it stands for. Without, the loss takes whole meshes and pairs their
    vertices itself."""

    faces: torch.Tensor
    grips: list[tuple[int, int]] = field(default_factory=list)
    depth_ratio: float = 1.0  # person 1 moved this much further along the camera's rays first

    refresh_steps: int = 1  # how often the vertex pairs of the penetration term are found anew
    queries: np.ndarray | None = None
    index: torch.Tensor | None = None
    vertex_weight: float = 1.0  # how many of the mesh's vertices each tested one stands for
    steps: int = 0
    closest: list[Closest] = field(default_factory=list)
    grip_nearest: list[int] = field(default_factory=list)  # per grip, the gripped vertex of the other

    def due(self) -> bool:
        """Whether the vertex pairs are found anew before this step."""
        return self.steps % self.refresh_steps == 0

    def find(self, out) -> None:
        """Pair each body's tested vertices with the other's nearest, and each gripping hand with
        the vertex it holds, on whole posed meshes (no gradient needed)."""
        vertices, keypoints = out.vertices.detach(), out.keypoints.detach()
        tested = vertices if self.queries is None else vertices[:, self.queries]
        # The two bodies side by side: the k-d trees and the normals hold no interpreter lock.
        closest = list(_pairing_pool().map(lambda a: closest_surface(tested[a], vertices[1 - a], self.faces), (0, 1)))
        grips = [int(torch.argmin(((vertices[1 - person] - keypoints[person, wrist]) ** 2).sum(-1)))
                 for person, wrist in self.grips]
        if self.queries is None:
            self.closest, self.grip_nearest = closest, grips
            return
        # Positions in the vertices the next outputs hold: the tested ones, and those they meet.
        queries = self.queries
        self.vertex_weight = vertices.shape[1] / len(queries)
        needed = np.unique(np.concatenate([queries, *(c.nearest.numpy() for c in closest), grips]).astype(np.int64))
        at = lambda full: torch.as_tensor(np.searchsorted(needed, full))  # noqa: E731
        self.closest = [Closest(at(queries[c.vertices.numpy()]), at(c.nearest.numpy()), c.normals) for c in closest]
        self.grip_nearest = at(np.asarray(grips, np.int64)).tolist()
        self.index = torch.as_tensor(needed)

    def loss(self, out, settings) -> torch.Tensor:
        vertices = out.vertices
        if self.queries is None and self.due():
            self.find(out)
        self.steps += 1
        margin = 0.0 if self.queries is None else THINNED_MARGIN_M
        total = settings.penetration_weight * self.vertex_weight * (
            penetration_loss(vertices[0], vertices[1], self.faces, self.closest[0], margin)
            + penetration_loss(vertices[1], vertices[0], self.faces, self.closest[1], margin))
        for (person, wrist), nearest in zip(self.grips, self.grip_nearest):
            reach = (out.keypoints[person, wrist] - vertices[1 - person, nearest]).norm()
            total = total + settings.grip_weight * torch.relu(reach - GRIP_REACH_M) ** 2
        return total


def pair_terms(vertices: list[np.ndarray], people, faces: np.ndarray, K: np.ndarray, width: int, height: int,
               grips: bool = True, masks: list[np.ndarray] | None = None, rgb: np.ndarray | None = None) -> PairTerms:
    """The joint stage's terms for two bodies (their vertices as they stand): which wrists lie
    on the other's silhouette in the photo (grips; none when `grips` is off), and how much
    further person 1 should stand to be in contact with person 0, with the fighter the photo
    shows in front nearer (depth_ratio, when the fighters' masks are given; the photo's front
    needs the photo too)."""
    held = []
    if grips:
        for person, target in enumerate(people):
            wrists = [w for w in WRISTS if target.confidence[w] >= CONFIDENT
                      and 0 <= target.points[w][0] < width and 0 <= target.points[w][1] < height]
            # The centre of the wrist's pixel, as a silhouette mask of the other would be read there.
            centres = np.floor([target.points[w] for w in wrists]) + 0.5
            on_other = covers(K, vertices[1 - person], faces, centres) if wrists else []
            held += [(person, w) for w, on in zip(wrists, on_other) if on]
    ratio = 1.0 if masks is None else depth_ratio(vertices, faces, K, width, height, masks, rgb)
    return PairTerms(torch.as_tensor(faces), held, ratio)


# Person 1's distance from the camera relative to where its separate fit put it: the separate
# fits take each body's size from a prior, so their depths can be off by a fifth either way
# (docs/decisions.md, "The pair's placement").
DEPTH_RATIOS = np.exp(np.linspace(np.log(0.6), np.log(1.7), 61))  # steps of 1.7%
# Searched only where the bodies touch at none of DEPTH_RATIOS: a fighter whose detection is a
# part of a body gets a size, and so a depth, far off (docs/decisions.md, "Two fighters whose
# silhouettes do not meet"); two fighters in a throw touch, so that one moves to where they do.
WIDE_RATIOS = np.exp(np.linspace(np.log(0.2), np.log(5.0), 161))  # steps of 2%
CONTACT_M = 0.03  # a vertex this close to the other body's vertices touches it


def contact_counts(vertices: list[np.ndarray], ratios: np.ndarray = DEPTH_RATIOS) -> np.ndarray:
    """For each ratio, how many of person 1's vertices lie within CONTACT_M of person 0's when
    person 1 is scaled about the camera's centre by it (every second vertex: about 20 ms a ratio)."""
    from scipy.spatial import cKDTree  # scipy.spatial only where used

    tree = cKDTree(vertices[0][::2])
    moved = vertices[1][::2]
    return np.array([int((tree.query(moved * r, distance_upper_bound=CONTACT_M)[0] < CONTACT_M).sum())
                     for r in ratios])


def nearest_ratio(vertices: list[np.ndarray], ratios: np.ndarray = WIDE_RATIOS[::2]) -> float:
    """The ratio (of `ratios`) at which person 1, scaled about the camera's centre, comes nearest
    person 0 (every eighth vertex of each)."""
    from scipy.spatial import cKDTree

    tree = cKDTree(vertices[0][::8])
    moved = vertices[1][::8]
    return float(ratios[int(np.argmin([tree.query(moved * r)[0].min() for r in ratios]))])


def depth_ratio(vertices: list[np.ndarray], faces: np.ndarray | None = None, K: np.ndarray | None = None,
                width: int = 0, height: int = 0, masks: list[np.ndarray] | None = None,
                rgb: np.ndarray | None = None) -> float:
    """How much further (or nearer) person 1 should stand, scaled about the camera's centre (which
    leaves the photo as it is): the middle (in log ratio) of the range of ratios at which the two
    bodies touch at all, searched over DEPTH_RATIOS, then WIDE_RATIOS (keeping the one fitted
    further behind); where they touch at none (their silhouettes do not meet), the ratio that
    brings them nearest (nearest_ratio).

    Why: two fighters in a photo of a throw touch, and their bodies fitted apart get their depths
    from a size prior, off by up to a fifth each. Where the fitted bodies touch is a range (their
    limbs' depths are off too, so at the true placement they pass through each other), and its
    middle is the estimate least thrown by that. Where the photo's colours say who is in front
    (photo_front), the range is cut to the ratios that leave that fighter nearer. What was
    measured and tried: docs/decisions.md, "The pair's placement"."""
    ratios = DEPTH_RATIOS
    touching = np.flatnonzero(contact_counts(vertices, ratios))
    if len(touching) == 0:
        ratios = WIDE_RATIOS
        touching = np.flatnonzero(contact_counts(vertices, ratios))
        # The one fitted that far off is most likely a partial detection, of the fighter the
        # other hides: of the depths where they touch, those that keep it behind.
        depth_0, depth_1 = (float(np.median(v[:, 2])) for v in vertices)
        behind = (ratios[touching] * depth_1 >= depth_0) == (depth_1 >= depth_0)
        if behind.any():
            touching = touching[behind]
    if len(touching) == 0:  # their silhouettes do not meet: as near as the photo lets them
        return nearest_ratio(vertices)
    if masks is not None and rgb is not None:
        # Where the photo shows clearly who is in front, only the ratios that leave that fighter
        # nearer where the two overlap (the overlap in the photo does not change with the ratio).
        overlap = silhouette_overlap(vertices, faces, K, width, height)
        front = photo_front(rgb, masks, overlap) if overlap.any() else None
        if front is not None:
            near, far = (depth_in_region(v, K, overlap) for v in vertices)
            right = (near < far * ratios[touching]) == (front == 0)
            if right.any():
                touching = touching[right]
    return float(np.sqrt(ratios[touching[0]] * ratios[touching[-1]]))
