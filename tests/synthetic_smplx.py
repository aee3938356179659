"""A small, random but valid model file in the SMPL-X .npz layout, so the SMPL-X code is tested
without the real (licensed) files.

It has SMPL-X's 55-joint tree and joint names, its 10475 vertices (smplx picks the nose, eyes,
ears, toes and heels by vertex number), shape and expression directions, pose correctives,
skin weights, a joint regressor, faces, hand components and face landmarks. The body is a
T-posed stick figure of the right proportions: vertices scattered around each bone, each
joint regressed exactly from six vertices around it that move rigidly with it. Like the real
files it also carries pickled extras (`joint2num`, `part2num`); here they are tripwires that
create a file when unpickled, so tests can check they never are.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

V = 10475
# SMPL-X's keypoint vertices (smplx.vertex_ids['smplx']): where each sits relative to a joint.
KEYPOINT_VERTICES = {
    9120: ("head", (0.0, 0.04, 0.11)),  # nose
    9929: ("head", (-0.035, 0.07, 0.09)), 9448: ("head", (0.035, 0.07, 0.09)),  # eyes
    616: ("head", (-0.08, 0.04, 0.0)), 6: ("head", (0.08, 0.04, 0.0)),  # ears
    5770: ("left_foot", (0.0, -0.02, 0.07)), 5780: ("left_foot", (0.05, -0.02, 0.05)),  # left toes
    8846: ("left_ankle", (0.0, -0.07, -0.06)),  # left heel
    8463: ("right_foot", (0.0, -0.02, 0.07)), 8474: ("right_foot", (-0.05, -0.02, 0.05)),  # right toes
    8635: ("right_ankle", (0.0, -0.07, -0.06)),  # right heel
}
BODY = {  # joint: (parent, rest position in SMPL-X's frame (Y up, facing +Z, left is +X), limb radius)
    "pelvis": (None, (0.0, -0.30, 0.0), 0.12),
    "left_hip": ("pelvis", (0.07, -0.39, 0.0), 0.07), "right_hip": ("pelvis", (-0.07, -0.39, 0.0), 0.07),
    "spine1": ("pelvis", (0.0, -0.19, -0.01), 0.12),
    "left_knee": ("left_hip", (0.10, -0.78, 0.01), 0.05), "right_knee": ("right_hip", (-0.10, -0.78, 0.01), 0.05),
    "spine2": ("spine1", (0.0, -0.05, 0.0), 0.12),
    "left_ankle": ("left_knee", (0.09, -1.18, -0.03), 0.04),
    "right_ankle": ("right_knee", (-0.09, -1.18, -0.03), 0.04),
    "spine3": ("spine2", (0.0, 0.01, 0.02), 0.12),
    "left_foot": ("left_ankle", (0.11, -1.24, 0.09), 0.03), "right_foot": ("right_ankle", (-0.11, -1.24, 0.09), 0.03),
    "neck": ("spine3", (0.0, 0.22, -0.02), 0.05),
    "left_collar": ("spine3", (0.07, 0.13, 0.0), 0.05), "right_collar": ("spine3", (-0.07, 0.13, 0.0), 0.05),
    "head": ("neck", (0.0, 0.30, 0.01), 0.09),
    "left_shoulder": ("left_collar", (0.17, 0.16, -0.02), 0.045),
    "right_shoulder": ("right_collar", (-0.17, 0.16, -0.02), 0.045),
    "left_elbow": ("left_shoulder", (0.43, 0.14, -0.03), 0.04),
    "right_elbow": ("right_shoulder", (-0.43, 0.14, -0.03), 0.04),
    "left_wrist": ("left_elbow", (0.68, 0.14, -0.03), 0.03),
    "right_wrist": ("right_elbow", (-0.68, 0.14, -0.03), 0.03),
    "jaw": ("head", (0.0, 0.27, 0.05), 0.03),
    "left_eye_smplhf": ("head", (0.035, 0.35, 0.07), 0.012),
    "right_eye_smplhf": ("head", (-0.035, 0.35, 0.07), 0.012),
}
FINGERS = {"index": 0.025, "middle": 0.008, "pinky": -0.027, "ring": -0.01, "thumb": 0.045}  # SMPL-X order, Z offset


def skeleton() -> tuple[list[str], list[int], np.ndarray, np.ndarray]:
    """Joint names, parents, rest positions (55, 3) and limb radii, in SMPL-X's joint order."""
    names, parents, positions, radii = [], [], [], []
    for name, (parent, position, radius) in BODY.items():
        names.append(name)
        parents.append(-1 if parent is None else names.index(parent))
        positions.append(position)
        radii.append(radius)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        wrist = np.array(BODY[f"{side}_wrist"][1])
        for finger, z in FINGERS.items():
            for segment in (1, 2, 3):
                names.append(f"{side}_{finger}{segment}")
                parents.append(names.index(f"{side}_wrist") if segment == 1 else len(names) - 2)
                along = 0.09 + 0.03 * (segment - 1) if finger != "thumb" else 0.03 + 0.03 * segment
                positions.append(wrist + (sign * along, -0.01 if finger == "thumb" else 0.0, z))
                radii.append(0.008)
    return names, parents, np.array(positions), np.array(radii)


class _Tripwire:
    """Unpickling this creates `marker` (what a malicious pickle could do with any code)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def model_arrays(seed: int = 0, scale: float = 1.0) -> dict[str, np.ndarray]:
    """The numeric arrays of a synthetic SMPL-X model (`scale` makes a smaller or larger body)."""
    rng = np.random.default_rng(seed)
    names, parents, joints, radii = skeleton()
    joints = joints * scale
    J = len(names)
    children = [[c for c, p in enumerate(parents) if p == j] for j in range(J)]
    tails = np.array([joints[children[j]].mean(0) if children[j] else
                      joints[j] + 0.3 * (joints[j] - joints[parents[j]]) for j in range(J)])

    owner = np.full(V, -1)
    along = np.zeros(V)
    vertices = np.zeros((V, 3))
    corrective = np.zeros(V, bool)  # vertices with pose correctives
    # Six vertices around each joint, regressing it exactly and moving rigidly with it.
    free = np.setdiff1d(np.arange(V), list(KEYPOINT_VERTICES))
    ring_ids = free[: 6 * J].reshape(J, 6)
    offsets = 0.015 * np.concatenate([np.eye(3), -np.eye(3)])
    for j in range(J):
        owner[ring_ids[j]] = j
        vertices[ring_ids[j]] = joints[j] + offsets
    for vertex, (joint, offset) in KEYPOINT_VERTICES.items():
        owner[vertex] = names.index(joint)
        vertices[vertex] = joints[owner[vertex]] + np.array(offset) * scale
    # The rest: skin scattered along each bone, more where bones are long and thick.
    rest = free[6 * J:]
    lengths = np.linalg.norm(tails - joints, axis=1) * (radii + 0.02)
    owner[rest] = rng.choice(J, size=len(rest), p=lengths / lengths.sum())
    along[rest] = rng.uniform(0.0, 1.0, len(rest))
    directions = rng.normal(size=(len(rest), 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    vertices[rest] = (joints[owner[rest]] + along[rest, None] * (tails[owner[rest]] - joints[owner[rest]])
                      + radii[owner[rest], None] * directions)
    bent = [names.index(n) for n in ("left_knee", "right_knee", "left_elbow", "right_elbow")]
    corrective[rest] = np.isin(owner[rest], bent)

    weights = np.zeros((V, J))
    weights[np.arange(V), owner] = 1.0
    blend = rest[owner[rest] > 0]  # skin near a bone's start is partly carried by its parent
    share = 0.3 * (1.0 - along[blend])
    weights[blend, owner[blend]] -= share
    weights[blend, np.array(parents)[owner[blend]]] += share

    regressor = np.zeros((J, V))
    for j in range(J):
        regressor[j, ring_ids[j]] = 1.0 / 6.0

    pelvis = joints[0]
    shapedirs = np.zeros((V, 3, 20))
    shapedirs[:, :, 0] = 0.05 * (vertices - pelvis)  # overall size
    shapedirs[:, 1, 1] = 0.04 * (vertices[:, 1] - pelvis[1])  # height
    girth = vertices - (joints[owner] + along[:, None] * (tails[owner] - joints[owner]))
    shapedirs[:, :, 2] = 0.15 * girth  # girth
    for k in range(3, 10):  # smooth random deformations
        shapedirs[:, :, k] = 0.01 * (vertices - pelvis) @ rng.normal(size=(3, 3))
    head = owner == names.index("head")
    shapedirs[head, :, 10:] = 0.002 * rng.normal(size=(head.sum(), 3, 10))  # expressions
    posedirs = np.zeros((V, 3, (J - 1) * 9), np.float32)
    posedirs[corrective] = 0.002 * rng.normal(size=(corrective.sum(), 3, (J - 1) * 9))

    order = np.argsort(owner * 2.0 + along, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(owner[order])) + 1)
    faces = np.concatenate([np.stack([g[:-2], g[1:-1], g[2:]], 1) for g in groups if len(g) >= 3])
    landmarks = rng.integers(0, len(faces), 51)
    bary = rng.dirichlet(np.ones(3), 51)
    hands = {f"hands_components{s}": np.linalg.qr(rng.normal(size=(45, 45)))[0] for s in "lr"}
    hands |= {f"hands_mean{s}": 0.1 * rng.normal(size=45) for s in "lr"}
    kintree = np.array([[4294967295] + parents[1:], list(range(J))], dtype=np.int64)
    return {
        "v_template": vertices.astype(np.float64), "f": faces.astype(np.uint32), "J_regressor": regressor,
        "weights": weights, "kintree_table": kintree, "shapedirs": shapedirs, "posedirs": posedirs,
        "lmk_faces_idx": landmarks.astype(np.int64), "lmk_bary_coords": bary, **hands,
    }


def write_model(folder: Path, gender: str = "neutral", tripwire: Path | None = None, **arrays_options) -> Path:
    """SMPLX_<GENDER>.npz in `folder`, compressed like the real files, with pickled tripwires."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"SMPLX_{gender.upper()}.npz"
    arrays = model_arrays(**arrays_options)
    if tripwire is not None:
        for key in ("joint2num", "part2num"):
            arrays[key] = np.array(_Tripwire(tripwire), dtype=object)
    np.savez_compressed(path, **arrays)
    return path
