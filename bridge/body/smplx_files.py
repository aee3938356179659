"""Finding and reading the user's own SMPL-X model file, safely, with one clear message per
kind of wrong input.

Only the `.npz` release is read, with numpy's allow_pickle=False: the `.pkl` release (and any
object array inside an `.npz`) needs Python's pickle, which runs whatever code a file carries.
The official SMPL-X `.npz` files hold a few pickled extras (`joint2num`, `part2num`) that the
body does not need; those are never touched. The smplx package's own loader would unpickle
them (it opens `.npz` files with allow_pickle=True), so it only ever sees a plain copy holding
the numeric arrays read here (see write_plain_copy).
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..errors import BridgeError

GENDERS = ("neutral", "male", "female")
SMPLX_VERTICES = 10475  # keypoints (nose, eyes, ears, toes, heels) are picked by vertex number
SMPLX_JOINTS = 55  # 22 body, jaw, 2 eyes, 2 x 15 finger joints
POSE_BASIS = (SMPLX_JOINTS - 1) * 9
HAND_POSE = 45
MIN_SHAPE_COMPONENTS = 20  # 10 shape + 10 expression (SMPL-X 1.0); SMPL-X 1.1 has 300 + 100
REQUIRED = (
    "v_template", "f", "J_regressor", "weights", "kintree_table", "shapedirs", "posedirs",
    "hands_componentsl", "hands_componentsr", "hands_meanl", "hands_meanr", "lmk_faces_idx", "lmk_bary_coords",
)
FILE_HINT = ("Download SMPL-X from its authors (smpl-x.is.tue.mpg.de, free registration; the 'npz' "
             "models) and pass the folder that holds SMPLX_NEUTRAL.npz, SMPLX_MALE.npz and SMPLX_FEMALE.npz.")


def model_file_name(gender: str) -> str:
    return f"SMPLX_{gender.upper()}.npz"


def check_gender(gender: str) -> str:
    if gender not in GENDERS:
        raise BridgeError("bad_gender", f"There is no SMPL-X gender '{gender}'.",
                          "Use --gender neutral, male or female.")
    return gender


def find_model_file(folder, gender: str) -> Path:
    """SMPLX_<GENDER>.npz in `folder` or in its `smplx` subfolder (the smplx package's layout)."""
    check_gender(gender)
    if folder is None:
        raise BridgeError("model_folder_missing", "The SMPL-X body needs your SMPL-X model folder.",
                          "Pass --model-folder DIR (in Blender: the add-on's preferences). " + FILE_HINT)
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise BridgeError("model_folder_missing", f"The SMPL-X model folder {folder} {what}.",
                          "Pass the folder that holds SMPLX_NEUTRAL.npz. " + FILE_HINT)
    name = model_file_name(gender)
    candidates = [folder / name, folder / "smplx" / name]
    for path in candidates:
        if path.is_file():
            return path
    pickled = [p for p in (c.with_suffix(".pkl") for c in candidates) if p.is_file()]
    if pickled:
        raise BridgeError("model_file_missing",
                          f"{pickled[0]} is the pickle release of SMPL-X; Golden Score reads only {name}.",
                          "Pickle files can run code hidden in them, so they are never loaded. "
                          "Download the 'npz' models from the SMPL-X site and put "
                          f"{name} into {folder}.")
    raise BridgeError("model_file_missing", f"There is no {name} in {folder}.",
                      f"--gender {gender} needs {name} there. " + FILE_HINT)


def _unreadable(path: Path, why: str) -> BridgeError:
    return BridgeError("model_unreadable", f"{path} cannot be read as an SMPL-X model: {why}.",
                       "Download the file again. " + FILE_HINT)


def _wrong_kind(path: Path, what: str) -> BridgeError:
    return BridgeError("model_wrong_kind",
                       f"{path} holds {what}, not SMPL-X ({SMPLX_JOINTS} joints with jaw, eyes and fingers; "
                       f"{SMPLX_VERTICES} vertices).", FILE_HINT)


def _kind_of(arrays: dict) -> str:
    """A readable name for a model file that is not SMPL-X, from its arrays alone."""
    joints = arrays["kintree_table"].shape[-1] if "kintree_table" in arrays else None
    hands = "hands_componentsl" in arrays
    if joints == 24 and not hands:
        return "an SMPL model (24 joints, no hands, jaw or face)"
    if joints == 52 or (hands and "lmk_faces_idx" not in arrays):
        return "an SMPL+H model (hands but no jaw or face)"
    if "v_template" in arrays and "f" in arrays and joints is None:
        return "a mesh without a skeleton"
    missing = [k for k in REQUIRED if k not in arrays]
    return f"a model of another kind (it lacks {', '.join(missing)})"


def read_model_arrays(path: Path) -> dict[str, np.ndarray]:
    """The numeric arrays an SMPL-X body is made of, checked for their SMPL-X shapes."""
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except ValueError:
        raise _unreadable(path, "it is not an .npz archive (a pickle file?)") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise _unreadable(path, f"it is not a readable .npz archive ({exc})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise _unreadable(path, "it holds one array, not the arrays of a body model")
    with archive:
        arrays = {}
        for key in archive.files:
            if key not in REQUIRED:
                continue  # extras such as the pickled joint2num are never read
            try:
                arrays[key] = archive[key]
            except ValueError:
                raise _unreadable(path, f"its '{key}' array is a pickled Python object") from None
            except (OSError, EOFError, zipfile.BadZipFile) as exc:
                raise _unreadable(path, f"its '{key}' array is damaged ({exc})") from None
    if any(k not in arrays for k in REQUIRED) or arrays["kintree_table"].shape != (2, SMPLX_JOINTS):
        raise _wrong_kind(path, _kind_of(arrays))
    vertices = arrays["v_template"].shape[0]
    if vertices != SMPLX_VERTICES:
        raise _wrong_kind(path, f"a body with {vertices} vertices")
    _check_shapes(path, arrays)
    return {key: _plain(value) for key, value in arrays.items()}


def _check_shapes(path: Path, arrays: dict) -> None:
    V, J = SMPLX_VERTICES, SMPLX_JOINTS
    expected = {
        "v_template": (V, 3), "J_regressor": (J, V), "weights": (V, J), "posedirs": (V, 3, POSE_BASIS),
        "hands_componentsl": (HAND_POSE, HAND_POSE), "hands_componentsr": (HAND_POSE, HAND_POSE),
        "hands_meanl": (HAND_POSE,), "hands_meanr": (HAND_POSE,),
    }
    for key, shape in expected.items():
        if arrays[key].shape != shape:
            raise _unreadable(path, f"'{key}' has shape {arrays[key].shape} where {shape} is expected")
    shapedirs, faces = arrays["shapedirs"], arrays["f"]
    if shapedirs.ndim != 3 or shapedirs.shape[:2] != (V, 3) or shapedirs.shape[2] < MIN_SHAPE_COMPONENTS:
        raise _unreadable(path, f"'shapedirs' has shape {shapedirs.shape} where ({V}, 3, 20 or more) is expected")
    if faces.ndim != 2 or faces.shape[1] != 3 or not np.issubdtype(faces.dtype, np.integer) \
            or faces.min() < 0 or faces.max() >= V:
        raise _unreadable(path, f"'f' is not a list of triangles over the {V} vertices")
    parents = arrays["kintree_table"][0].astype(np.int64)
    if any(not 0 <= parents[j] < j for j in range(1, J)):
        raise _unreadable(path, "'kintree_table' is not a tree with every parent before its children")
    landmarks = arrays["lmk_faces_idx"]
    if arrays["lmk_bary_coords"].shape != (*landmarks.shape, 3) or (landmarks.size and landmarks.max() >= len(faces)):
        raise _unreadable(path, "'lmk_faces_idx' and 'lmk_bary_coords' do not match the faces")


def _plain(value: np.ndarray) -> np.ndarray:
    """float32 for every float array (halves SMPL-X 1.1's float64 basis), int64 for indices."""
    if np.issubdtype(value.dtype, np.floating):
        return value.astype(np.float32)
    return value.astype(np.int64)


def write_plain_copy(arrays: dict[str, np.ndarray], folder: Path, gender: str) -> Path:
    """The checked arrays as an .npz with no object inside, named as the smplx package expects."""
    path = Path(folder) / model_file_name(gender)
    np.savez(path, **arrays)
    return path
