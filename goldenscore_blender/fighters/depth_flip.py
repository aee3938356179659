"""What one photo cannot decide about a fighter, flipped in one step: a limb's depth and which
way the body faces. Pure numpy (no bpy), so the geometry is tested without Blender.

Everything works on *deform matrices*: D[j] (4x4, rigid) carries bone j's rest frame to its
posed place, in any frame where `eye` is the photo camera's centre (Blender's armature space,
the world, or the bridge's camera coordinates with eye = 0). A point stays on its pixel exactly
when it stays on its ray from `eye`, so no intrinsics are needed.

Flip Limb Depth: the limb's root joint (shoulder or hip) stays; each joint below it (elbow,
wrist, hand's end; knee, ankle, foot's end) slides along its own camera ray to the other depth at
which its segment keeps its length, measured from the joint above as already moved. Each segment
then turns by the smallest rotation that points it at its new joint (its twist about its own axis
is kept; Anny's second upper-arm, forearm, thigh and shin bones turn with their segment, so
their heads, partway along it, may slide a pixel or so along its line in the photo), and what
hangs below the limb (fingers, toes) follows the limb's last bone. Twice is the identity.
Perspective limits it: below a joint that went much farther away, a segment almost across the
view can no longer span its pixels (farther, the same length looks shorter); its end then comes
as near its ray as the segment reaches (`ray_distances` says how near).

Flip Facing: a body seen from the front and one seen from behind cast the same keypoints, once
left and right are swapped: the mirror image of the body in depth, about the plane through the
pelvis facing the camera, is a body facing the other way whose right side lies where the left
side was (the ambiguity of every 2D pose: a detector that believes the fighter faces it labels
the image's left arm as the right one). A mirror image is not a rotation, but the body's rest
skeleton is left-right symmetric, so the mirrored pose is a real pose of the same body with each
bone taking its partner's place: D'[j] = M @ D[partner(j)] @ S, with M the depth mirror and S
the rest skeleton's left-right mirror (both reflections, so D' is rigid). A plane mirror moves
points along the pelvis ray rather than their own rays, which shifts a joint off its pixel by
about (its sideways offset) x (its depth change) / (its distance); a second pass puts every bone's
tail back on the ray its partner's tail had, keeping the bone's length (see `settle_on_rays`).
That pass meets the same reach limit as a limb flip, so limbs far out in depth can stay a few
pixels off; the mesh is mirrored as well as the body model is left-right symmetric. Measured:
docs/decisions.md, "Flip Facing".

Rejected: a half turn about the vertical axis through the pelvis mirrors the keypoints sideways
(a hand 40 cm left of the pelvis lands 40 cm right); a half turn about the camera ray through
the pelvis keeps the facing and turns the body upside down.
"""
from __future__ import annotations

import numpy as np

# Each limb's segments, root first, as the bones that make them up (Anny splits the upper arm,
# forearm, thigh and shin into two bones, the second for the twist); the limb's joints are each
# segment's first head and the last bone's tail. Anny's names (".L"/".R") and SMPL-X's ("left_").
_ANNY_LIMBS = {"arm": (("upperarm01", "upperarm02"), ("lowerarm01", "lowerarm02"), ("wrist",)),
               "leg": (("upperleg01", "upperleg02"), ("lowerleg01", "lowerleg02"), ("foot",))}
_SMPLX_LIMBS = {"arm": (("shoulder",), ("elbow",), ("wrist",)), "leg": (("hip",), ("knee",), ("ankle",), ("foot",))}
_SIDES = {"L": "left", "R": "right"}


def limb_chains(names) -> dict[str, list[list[int]]]:
    """{"left arm": [[bone indices of a segment], ...], ...} for the limbs the armature has,
    segments from the limb's root (shoulder, hip) down."""
    index = {str(name): j for j, name in enumerate(names)}
    chains = {}
    for side, word in _SIDES.items():
        for limb in ("arm", "leg"):
            for chain in ([[f"{b}.{side}" for b in segment] for segment in _ANNY_LIMBS[limb]],
                          [[f"{word}_{b}" for b in segment] for segment in _SMPLX_LIMBS[limb]]):
                if all(name in index for segment in chain for name in segment):
                    chains[f"{word} {limb}"] = [[index[name] for name in segment] for segment in chain]
                    break
    return chains


def limb_of(names, parents, bone: int) -> tuple[str, list[list[int]]] | None:
    """The limb (name, segments) that bone `bone` belongs to: one of its bones, or a bone hanging
    below it (a finger, a toe); None for the torso, head, clavicles, pelvis."""
    owner = {j: (limb, chain) for limb, chain in limb_chains(names).items() for segment in chain for j in segment}
    j = int(bone)
    while j >= 0:
        if j in owner:
            return owner[j]
        j = int(parents[j])
    return None


def transform_points(matrices, points) -> np.ndarray:
    """matrices (..., 4, 4) applied to points (..., 3)."""
    matrices, points = np.asarray(matrices, dtype=np.float64), np.asarray(points, dtype=np.float64)
    return np.einsum("...ab,...b->...a", matrices[..., :3, :3], points) + matrices[..., :3, 3]


def chain_joints(deform, rest_heads, rest_tails, chain) -> np.ndarray:
    """(len(chain) + 1, 3): each segment's posed start (its first bone's head) and the limb's end
    (the last bone's tail)."""
    starts = [segment[0] for segment in chain]
    heads = transform_points(np.asarray(deform)[starts], np.asarray(rest_heads)[starts])
    last = chain[-1][-1]
    tail = transform_points(np.asarray(deform)[last], np.asarray(rest_tails)[last])
    return np.vstack([heads, tail])


def flip_chain_depth(joints, eye=(0.0, 0.0, 0.0)) -> np.ndarray:
    """The chain mirrored in depth as the camera at `eye` sees it: joints[0] stays, and each later
    joint moves along its ray from `eye` to the other depth at which its segment from the (moved)
    joint before it keeps its length. Where no such depth exists (the moved joint lies farther
    from the ray than the segment is long: a segment almost across the view, below one that moved
    far in depth), the joint goes as near its ray as the segment reaches, a little off its pixel."""
    joints = np.asarray(joints, dtype=np.float64)
    eye = np.asarray(eye, dtype=np.float64)
    flipped = joints.copy()
    for k in range(1, len(joints)):
        ray = joints[k] - eye
        distance = np.linalg.norm(ray)
        ray = ray / distance
        length = np.linalg.norm(joints[k] - joints[k - 1])
        # Along the ray the segment's end lies at m ± sqrt(L² - d²) from the eye, where m is where
        # the ray passes nearest the joint above and d how near; it was on one side, now the other.
        offset = distance - ray @ (joints[k - 1] - eye)
        start = flipped[k - 1] - eye
        middle = ray @ start
        reach = np.sqrt(max(length ** 2 - (start @ start - middle ** 2), 0.0))
        target = eye + ray * (middle - np.sign(offset) * reach)
        direction = target - flipped[k - 1]
        flipped[k] = flipped[k - 1] + direction * (length / np.linalg.norm(direction))
    return flipped


def ray_distances(points, on_rays, eye=(0.0, 0.0, 0.0)) -> np.ndarray:
    """How far each of `points` lies from the ray from `eye` through the matching `on_rays` point."""
    eye = np.asarray(eye, dtype=np.float64)
    rays = np.asarray(on_rays, dtype=np.float64) - eye
    rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
    offsets = np.asarray(points, dtype=np.float64) - eye
    return np.linalg.norm(offsets - rays * np.sum(offsets * rays, axis=-1, keepdims=True), axis=-1)


def swing(a, b) -> np.ndarray:
    """The smallest rotation (3x3) turning direction a onto direction b."""
    a = np.asarray(a, dtype=np.float64) / np.linalg.norm(a)
    b = np.asarray(b, dtype=np.float64) / np.linalg.norm(b)
    axis = np.cross(a, b)
    sine, cosine = np.linalg.norm(axis), float(a @ b)
    if sine < 1e-12:
        if cosine > 0:
            return np.eye(3)
        # Opposite: a half turn about any axis across a.
        axis = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
        axis /= np.linalg.norm(axis)
        return 2.0 * np.outer(axis, axis) - np.eye(3)
    axis /= sine
    cross = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    return np.eye(3) + sine * cross + (1.0 - cosine) * cross @ cross


def _turn_about(rotation, old_point, new_point) -> np.ndarray:
    """4x4: rotate by `rotation` about old_point, then carry old_point to new_point."""
    move = np.eye(4)
    move[:3, :3] = rotation
    move[:3, 3] = new_point - rotation @ old_point
    return move


def descendants(parents, bone: int) -> list[int]:
    """Bone `bone` and every bone below it, each after its parent."""
    children: dict[int, list[int]] = {}
    for j, parent in enumerate(parents):
        children.setdefault(int(parent), []).append(j)
    order, queue = [], [int(bone)]
    while queue:
        j = queue.pop(0)
        order.append(j)
        queue.extend(children.get(j, []))
    return order


def pose_chain(deform, parents, chain, old_joints, new_joints) -> np.ndarray:
    """deform with each segment's bones turned by the smallest rotation that points the segment
    at its new end and moved to its new start; bones below the limb (fingers, toes) follow its
    last segment. A segment's bones turn together, so the twist between them is kept."""
    deform = np.array(deform, dtype=np.float64)
    old_joints, new_joints = np.asarray(old_joints, dtype=np.float64), np.asarray(new_joints, dtype=np.float64)
    segment_of = {j: k for k, segment in enumerate(chain) for j in segment}
    moves = [_turn_about(swing(old_joints[k + 1] - old_joints[k], new_joints[k + 1] - new_joints[k]),
                         old_joints[k], new_joints[k]) for k in range(len(chain))]
    for j in descendants(parents, chain[0][0]):
        up = j
        while up not in segment_of:
            up = int(parents[up])
        deform[j] = moves[segment_of[up]] @ deform[j]
    return deform


def flip_limb(deform, parents, rest_heads, rest_tails, chain, eye=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Flip Limb Depth: the deform matrices with `chain`'s limb mirrored in depth (see the module)."""
    old = chain_joints(deform, rest_heads, rest_tails, chain)
    return pose_chain(deform, parents, chain, old, flip_chain_depth(old, eye))


def mirror_partner(names) -> np.ndarray:
    """For each bone, the index of its left-right partner (itself on the midline)."""
    index = {str(name): j for j, name in enumerate(names)}

    def partner(name: str) -> str:
        for a, b in ((".L", ".R"), (".R", ".L")):
            if name.endswith(a):
                return name[: -len(a)] + b
        for a, b in (("left", "right"), ("right", "left")):
            if a in name:
                return name.replace(a, b)
        return name

    return np.array([index.get(partner(str(name)), j) for j, name in enumerate(names)])


def depth_mirror(pivot, eye=(0.0, 0.0, 0.0)) -> np.ndarray:
    """4x4 mirror about the plane through `pivot` perpendicular to the camera ray through it."""
    pivot = np.asarray(pivot, dtype=np.float64)
    normal = pivot - np.asarray(eye, dtype=np.float64)
    normal /= np.linalg.norm(normal)
    mirror = np.eye(4)
    mirror[:3, :3] -= 2.0 * np.outer(normal, normal)
    mirror[:3, 3] = 2.0 * normal * (normal @ pivot)
    return mirror


def rest_mirror(rest_heads, partner) -> np.ndarray:
    """4x4 left-right mirror of the rest skeleton: x -> -x about the plane x = c that best
    carries each bone's head onto its partner's (x is the body's sideways axis at rest)."""
    heads = np.asarray(rest_heads, dtype=np.float64)
    mirror = np.diag([-1.0, 1.0, 1.0, 1.0])
    mirror[0, 3] = float(np.mean(heads[:, 0] + heads[partner, 0]))
    return mirror


def settle_on_rays(deform, parents, rest_heads, rest_tails, targets, eye=(0.0, 0.0, 0.0), root: int = 0,
                   bones=None) -> np.ndarray:
    """Each bone of `bones` (default: all below `root`), parents first, turned about its head by
    the smallest rotation that puts its tail on the ray from `eye` through targets[j], its length
    kept, at the depth along that ray nearest where the tail is; what hangs below it follows. A
    tail that cannot reach its ray goes as near as it can."""
    deform = np.array(deform, dtype=np.float64)
    eye = np.asarray(eye, dtype=np.float64)
    chosen = None if bones is None else set(bones)
    for j in descendants(parents, root):
        if chosen is not None and j not in chosen:
            continue
        head = transform_points(deform[j], rest_heads[j])
        tail = transform_points(deform[j], rest_tails[j])
        length = np.linalg.norm(tail - head)
        if length < 1e-9:
            continue
        ray = np.asarray(targets[j], dtype=np.float64) - eye
        ray /= np.linalg.norm(ray)
        start = head - eye
        middle = ray @ start
        reach = np.sqrt(max(length ** 2 - (start @ start - middle ** 2), 0.0))
        goal = min((eye + ray * (middle + s * reach) for s in (-1.0, 1.0)), key=lambda p: np.linalg.norm(p - tail))
        move = _turn_about(swing(tail - head, goal - head), head, head)
        for below in descendants(parents, j):
            deform[below] = move @ deform[below]
    return deform


def flip_facing(deform, names, parents, rest_heads, rest_tails, eye=(0.0, 0.0, 0.0), pivot=None,
                settle: bool = True) -> np.ndarray:
    """Flip Facing: the body turned to face the other way with its keypoints where they were,
    left and right swapped (see the module). `pivot` defaults to the root bone's posed head."""
    deform = np.asarray(deform, dtype=np.float64)
    partner = mirror_partner(names)
    roots = [j for j, parent in enumerate(parents) if parent < 0]
    root = roots[0]
    if pivot is None:
        pivot = transform_points(deform[root], np.asarray(rest_heads)[root])
    mirror = depth_mirror(pivot, eye)
    rest = rest_mirror(rest_heads, partner)
    flipped = mirror @ deform[partner] @ rest
    if not settle:
        return flipped
    # Where each tail should project: its partner's tail before the flip.
    targets = transform_points(deform[partner], np.asarray(rest_tails)[partner])
    return settle_on_rays(flipped, parents, rest_heads, rest_tails, targets, eye, root)
