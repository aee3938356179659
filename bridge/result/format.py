"""The result folder's contract: file names, keys, the format version and the keypoint layout.

The one owner of these names. Pure standard library, so the Blender add-on loads this very file
(as it loads `bridge/messages.py`) instead of keeping a copy; docs/result_format.md describes it
for other tools.
"""
from __future__ import annotations

FORMAT_VERSION = 1  # raise when a reader of an older version would misread a result
FORMAT_MARKER = "golden-score-result"  # scene.json's "format": proves a folder is a result the bridge wrote

SCENE_JSON = "scene.json"
OVERLAY = "overlay.png"
SCENE_GLB = "scene.glb"
SCENE_OBJ = "scene.obj"

ROLES = ("tori", "uke")

# The canonical keypoint order: OpenPose BODY_25 (what the original method and OpenPose JSON use).
BODY_25 = (
    "nose", "neck",
    "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist",
    "mid_hip",
    "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
    "left_big_toe", "left_small_toe", "left_heel",
    "right_big_toe", "right_small_toe", "right_heel",
)

# The camera: focal lengths are 35 mm equivalents, measured on a 36 mm film's longer side.
FILM_WIDTH_35MM = 36.0
DEFAULT_FOCAL_35MM = 50.0  # when neither EXIF nor the user says
FOCAL_35MM_RANGE = (8.0, 1200.0)  # a fisheye to a long telephoto; anything else is a typo

# Every fighter_<role>.npz holds at least these (more may be added; these names stay).
FIGHTER_KEYS = ("vertices", "faces", "keypoints3d", "keypoints2d", "keypoint_confidence", "pose", "shape",
                "transl", "bone_names", "bone_parents", "rest_heads", "rest_tails", "bone_poses",
                "bone_transforms", "skin_weights")
SCENE_KEYS = ("format_version", "image", "camera", "fighters", "front", "body_model")

# Ranked alternatives a fighter's 2D keypoints allow (limb depth, facing), best first; optional
# keys of fighter_<role>.npz. Hypothesis 0 is what `bone_poses` and `vertices` hold.
HYPOTHESIS_BONE_POSES = "hypothesis_bone_poses"  # (H, J, 4, 4), as bone_poses
HYPOTHESIS_POSE = "hypothesis_pose"  # (H, J, 3), as pose
HYPOTHESIS_TRANSL = "hypothesis_transl"  # (H, 3), as transl
HYPOTHESIS_SCORE = "hypothesis_score"  # (H,), lower is better
HYPOTHESIS_LABEL = "hypothesis_label"  # (H,) str, e.g. "left leg flipped, facing away"


def fighter_file(role: str) -> str:
    return f"fighter_{role}.npz"


def mask_file(role: str) -> str:
    """The fighter's mask in the photo (white = this fighter): what refinement compares with."""
    return f"mask_{role}.png"


ARTIST_POSE_KEY = "bone_poses"  # (J, 4, 4) posed bone frames, as fighter_<role>.npz's bone_poses


def artist_pose_file(role: str) -> str:
    """The add-on's pose of a fighter (`bone_poses`), for jobs that start from it."""
    return f"artist_pose_{role}.npz"


def version_problem(scene: dict) -> str | None:
    """Why a reader of this version cannot read `scene` (a parsed scene.json), or None."""
    version = scene.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        return f"its scene.json has no valid format_version ({version!r})"
    if version > FORMAT_VERSION:
        return (f"it was written in result format {version}, newer than this version's {FORMAT_VERSION}; "
                "update Golden Score")
    return None


def is_bridge_result(scene: object) -> bool:
    """Whether a parsed scene.json carries the bridge's marker (only such folders may be replaced)."""
    return isinstance(scene, dict) and scene.get("format") == FORMAT_MARKER
