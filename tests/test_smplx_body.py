"""SMPL-X as the body model, on a synthetic model file in the SMPL-X .npz layout (the real files
are licensed and never needed): loading, every kind of wrong input, skinning consistency,
fitting, and the result files."""
import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
import roma
import torch
from PIL import Image

from conftest import ROOT
from synthetic_smplx import model_arrays, skeleton, write_model

pytest.importorskip("smplx", reason="the optional smplx package is not installed (python build.py env --smplx)")

from bridge.body import load_body_model  # noqa: E402
from bridge.body.smplx_files import write_plain_copy  # noqa: E402
from bridge.body.vposer import VPoserEncoder  # noqa: E402
from bridge.geometry.camera import intrinsics, project  # noqa: E402
from bridge.errors import BridgeError  # noqa: E402
from bridge.fitting.fit import fit_fighter  # noqa: E402
from bridge.keypoints import INDEX  # noqa: E402
from bridge.metrics import keypoint_error_px, pa_mpjpe  # noqa: E402


@pytest.fixture(scope="module")
def tripwire(tmp_path_factory):
    return tmp_path_factory.mktemp("tripwire") / "unpickled"


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory, tripwire):
    folder = tmp_path_factory.mktemp("smplx_models")
    write_model(folder, "neutral", tripwire=tripwire)
    return folder


@pytest.fixture(scope="module")
def body(model_folder):
    return load_body_model("smplx", model_folder=model_folder, gender="neutral")


@pytest.fixture(scope="module")
def vposer_checkpoint(tmp_path_factory):
    """A VPoser 2 checkpoint laid out as Lightning saves it, with random weights."""
    torch.manual_seed(0)
    encoder = VPoserEncoder(hidden=64, latent=8)
    state = {f"vp_model.{k}": v for k, v in encoder.state_dict().items()}
    state["vp_model.decoder_net.0.weight"] = torch.zeros(64, 8)  # the decoder is there and ignored
    path = tmp_path_factory.mktemp("vposer") / "V02_05_epoch=13.ckpt"
    torch.save({"state_dict": state, "epoch": 13, "pytorch-lightning_version": "1.2.0"}, path)
    return path


def posed(body, yaw=0.4, knee=0.9, elbow=1.2, betas=None, transl=(0.0, 0.1, 3.5)):
    """A body upright, turned by `yaw`, knees and elbows bent, one arm and one leg raised."""
    pose = torch.zeros(1, len(body.bone_names), 3)
    turn = roma.rotvec_to_rotmat(torch.tensor([0.0, yaw, 0.0]))
    pose[0, 0] = roma.rotmat_to_rotvec(turn @ roma.rotvec_to_rotmat(body.base_orientation()))
    for hinge in body.hinges:
        pose[0, body.bone_index(hinge.bone)] = (knee if "knee" in hinge.bone else elbow) * torch.tensor(hinge.axis)
    pose[0, body.bone_index("left_shoulder")] = torch.tensor([0.0, 0.0, -0.6])
    pose[0, body.bone_index("right_hip")] = torch.tensor([-0.5, 0.0, 0.0])
    shape = body.default_shape() if betas is None else torch.tensor([betas], dtype=torch.float32)
    return body.forward(shape, pose, torch.tensor([transl])), pose, shape


def test_loads_the_users_model_without_unpickling_anything(body, tripwire):
    names, parents, _, _ = skeleton()
    assert body.bone_names == names and body.bone_parents == parents
    assert body.faces.shape[1] == 3 and len(body.shape_names) == 10
    described = body.describe()
    assert described == {"id": "smplx", "version": "0.1.28", "model_folder": described["model_folder"],
                         "gender": "neutral", "model_file": "SMPLX_NEUTRAL.npz", "pose_prior": "l2", "vposer": None}
    assert load_body_model(described["id"], model_folder=described["model_folder"], gender=described["gender"],
                           vposer=described["vposer"]) is body  # what a later job needs to load it again
    assert not tripwire.exists(), "a pickled object in the model file was unpickled"


def test_upright_body_faces_the_camera_with_keypoints_where_they_belong(body):
    out, _, _ = posed(body, yaw=0.0, knee=0.0, elbow=0.0)
    k = out.keypoints[0].numpy()
    at = lambda name: k[INDEX[name]]  # noqa: E731
    assert at("nose")[1] < at("neck")[1] < at("mid_hip")[1] < at("left_knee")[1] < at("left_heel")[1]  # y down
    assert at("nose")[2] < at("neck")[2]  # the face is towards the camera
    assert at("left_shoulder")[0] > at("right_shoulder")[0]  # facing us, left is on the image's right
    np.testing.assert_allclose(at("neck"), (at("left_shoulder") + at("right_shoulder")) / 2, atol=1e-6)
    np.testing.assert_allclose(at("mid_hip"), (at("left_hip") + at("right_hip")) / 2, atol=1e-6)
    np.testing.assert_allclose(out.bone_poses[0, 0, :3, 3].numpy(), [0.0, 0.1, 3.5], atol=1e-6)  # root at transl


def test_bone_transforms_skin_the_rest_body_onto_the_posed_body(body):
    """What Blender does with the result: each vertex moved by its bones' bone_poses @
    inv(rest_poses), weighted by skin_weights, lands on the fitted vertex; SMPL-X's pose
    correctives come on top, only where the model has them."""
    betas = [0.8, -0.5, 0.3, 0, 0, 0.4, 0, 0, 0, 0]
    out, pose, shape = posed(body, betas=betas)
    skeleton_ = body.rest_skeleton(shape[0])
    transforms = out.bone_poses[0].numpy() @ np.linalg.inv(skeleton_["rest_poses"])
    arrays = model_arrays()
    rest = arrays["v_template"] + arrays["shapedirs"][:, :, :10] @ np.array(betas)
    blended = np.einsum("vj,jab->vab", skeleton_["skin_weights"], transforms)
    skinned = (blended[:, :3, :3] @ rest[:, :, None])[:, :, 0] + blended[:, :3, 3]
    error = np.linalg.norm(skinned - out.vertices[0].numpy(), axis=1)
    rigid = ~np.any(arrays["posedirs"] != 0, axis=(1, 2))
    assert error[rigid].max() < 1e-4
    assert 1e-4 < error[~rigid].max() < 0.05  # the correctives are there, and small
    np.testing.assert_allclose(skeleton_["rest_heads"], arrays["J_regressor"] @ rest, atol=1e-5)
    knee = body.bone_index("right_knee")
    np.testing.assert_allclose(out.bone_poses[0, knee, :3, 3].numpy(), out.keypoints[0, INDEX["right_knee"]].numpy(),
                               atol=1e-5)


def test_pose_set_on_the_bones_comes_back(body):
    """The add-on sends bone frames the artist posed; the same pose and placement come back."""
    out, pose, shape = posed(body, betas=[0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    back, transl = body.pose_from_bone_poses(shape[0], out.bone_poses[0])
    again = body.forward(shape, back[None], transl[None])
    assert (again.vertices - out.vertices).abs().max() < 1e-4
    np.testing.assert_allclose(transl.numpy(), [0.0, 0.1, 3.5], atol=1e-5)


def test_fit_recovers_a_pose_rendered_from_the_model(body):
    K = intrinsics(384, 512)
    truth, _, _ = posed(body, betas=[0.8, -0.5, 0.3, 0, 0, 0, 0, 0, 0, 0])
    points = project(K, truth.keypoints[0].numpy())
    # With the detector's kind of 3D cue (limb directions), as a photo's fit has.
    result = fit_fighter(body, points, np.ones(25), K, 512, points3d=truth.keypoints[0].numpy())
    fitted = result.output.keypoints[0].numpy()
    assert keypoint_error_px(project(K, fitted), points) < 3.0
    assert pa_mpjpe(fitted, truth.keypoints[0].numpy()) < 0.035
    for hinge in body.hinges:
        bend = float(result.pose[body.bone_index(hinge.bone)] @ torch.tensor(hinge.axis))
        assert bend > 0.6, f"{hinge.bone} should be bent forward like the truth (1.2 / 0.9 rad), got {bend:.2f}"


def test_vposer_checkpoint_becomes_the_pose_prior(model_folder, vposer_checkpoint):
    body = load_body_model("smplx", model_folder=model_folder, vposer=vposer_checkpoint)
    assert body.describe()["pose_prior"] == "vposer"
    pose = torch.zeros(2, 55, 3)
    pose[1, 1:22] = 0.5
    pose.requires_grad_(True)
    prior = body.learned_pose_prior(pose)
    prior.sum().backward()
    assert prior.shape == (2,) and torch.isfinite(prior).all() and prior[0] != prior[1]
    assert pose.grad[:, 1:22].abs().sum() > 0 and pose.grad[:, 22:].abs().sum() == 0  # body joints only


# --- wrong input: one clear message each, naming the file and what is expected --------------


def expect_error(code, *words, **options):
    with pytest.raises(BridgeError) as caught:
        load_body_model(options.pop("name", "smplx"), **options)
    error = caught.value
    assert error.code == code, error.line()
    for word in words:
        assert str(word) in error.line(), error.line()
    return error


def test_no_folder_or_a_missing_one(tmp_path):
    expect_error("model_folder_missing", "--model-folder")
    expect_error("model_folder_missing", tmp_path / "nowhere", "does not exist", model_folder=tmp_path / "nowhere")


def test_folder_without_the_genders_file(tmp_path, model_folder):
    expect_error("model_file_missing", "SMPLX_NEUTRAL.npz", str(tmp_path), model_folder=tmp_path)
    expect_error("model_file_missing", "SMPLX_FEMALE.npz", "--gender female", model_folder=model_folder, gender="female")
    expect_error("bad_gender", "neutral, male or female", model_folder=model_folder, gender="other")


def test_pickle_release_is_refused_unread(tmp_path, tripwire):
    (tmp_path / "SMPLX_NEUTRAL.pkl").write_bytes(pickle.dumps({"v_template": 0}))
    error = expect_error("model_file_missing", "SMPLX_NEUTRAL.pkl", "SMPLX_NEUTRAL.npz", model_folder=tmp_path)
    assert "pickle" in error.line().lower()


def test_pickle_disguised_as_npz_is_not_unpickled(tmp_path):
    marker = tmp_path / "ran"
    from synthetic_smplx import _Tripwire

    (tmp_path / "SMPLX_NEUTRAL.npz").write_bytes(pickle.dumps(_Tripwire(marker)))
    expect_error("model_unreadable", "SMPLX_NEUTRAL.npz", "not an .npz", model_folder=tmp_path)
    assert not marker.exists()


def test_damaged_file(tmp_path):
    (tmp_path / "SMPLX_NEUTRAL.npz").write_bytes(b"PK\x03\x04 this is not really a zip")
    expect_error("model_unreadable", "SMPLX_NEUTRAL.npz", model_folder=tmp_path)


def test_smpl_model_is_named_as_the_wrong_kind(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "SMPLX_NEUTRAL.npz", v_template=rng.normal(size=(6890, 3)), f=np.zeros((13776, 3), np.int32),
             J_regressor=np.zeros((24, 6890)), weights=np.zeros((6890, 24)), kintree_table=np.zeros((2, 24), np.int64),
             shapedirs=np.zeros((6890, 3, 10)), posedirs=np.zeros((6890, 3, 207)))
    expect_error("model_wrong_kind", "SMPLX_NEUTRAL.npz", "SMPL model", "55 joints", model_folder=tmp_path)


def test_model_with_a_wrong_array_names_it(tmp_path):
    arrays = model_arrays()
    arrays["J_regressor"] = arrays["J_regressor"][:, :100]
    np.savez(tmp_path / "SMPLX_NEUTRAL.npz", **arrays)
    expect_error("model_unreadable", "SMPLX_NEUTRAL.npz", "'J_regressor'", "(55, 10475)", model_folder=tmp_path)


def test_needed_array_stored_as_a_pickle_is_refused(tmp_path, tripwire):
    from synthetic_smplx import _Tripwire

    arrays = model_arrays()
    arrays["weights"] = np.array(_Tripwire(tmp_path / "ran"), dtype=object)
    np.savez(tmp_path / "SMPLX_NEUTRAL.npz", **arrays)
    expect_error("model_unreadable", "SMPLX_NEUTRAL.npz", "'weights'", "pickled", model_folder=tmp_path)
    assert not (tmp_path / "ran").exists()


def test_vposer_checkpoints_that_do_not_load(tmp_path, model_folder):
    expect_error("vposer_missing", "nope.ckpt", model_folder=model_folder, vposer=tmp_path / "nope.ckpt")
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"\x00not a checkpoint" * 10)
    expect_error("vposer_unreadable", "garbage.ckpt", "VPoser", model_folder=model_folder, vposer=garbage)
    unsafe = tmp_path / "unsafe.ckpt"
    from synthetic_smplx import _Tripwire

    torch.save({"state_dict": {}, "hparams": _Tripwire(tmp_path / "ran")}, unsafe)
    error = expect_error("vposer_unreadable", "unsafe.ckpt", "never unpickled", model_folder=model_folder,
                         vposer=unsafe)
    assert "weights_only=False" in error.hint and not (tmp_path / "ran").exists()
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {"layer.weight": torch.zeros(3, 3)}}, other)
    expect_error("vposer_unreadable", "other.pt", "encoder", model_folder=model_folder, vposer=other)


def test_smplx_options_are_refused_for_anny(model_folder):
    expect_error("bad_body_option", "--model-folder", "--body smplx", name="anny", model_folder=model_folder)


# --- the result files ------------------------------------------------------------------------


def write_openpose(path, points):
    flat = np.concatenate([points, np.ones((25, 1))], axis=1).ravel().tolist()
    path.write_text(json.dumps({"version": 1.3, "people": [{"pose_keypoints_2d": flat}]}))


@pytest.fixture(scope="module")
def smplx_result(tmp_path_factory, body, model_folder):
    """`reconstruct --body smplx` on a blank photo with an OpenPose file of a posed synthetic body."""
    folder = tmp_path_factory.mktemp("smplx_result")
    width, height = 480, 640
    photo = folder / "photo.png"
    Image.fromarray(np.full((height, width, 3), 128, np.uint8)).save(photo)
    K = intrinsics(width, height)
    truth, _, _ = posed(body, yaw=0.3, transl=(0.0, 0.2, 4.0))
    points = project(K, truth.keypoints[0].numpy())
    write_openpose(folder / "kp.json", points)
    out = folder / "result"
    proc = subprocess.run([sys.executable, "-m", "bridge", "reconstruct", photo, "--out", out, "--keypoints",
                           folder / "kp.json", "--body", "smplx", "--model-folder", model_folder,
                           "--gender", "neutral"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return {"photo": photo, "out": out, "K": K, "points": points}


def test_reconstruct_writes_smplx_results_by_the_contract(smplx_result, body, tmp_path):
    out = smplx_result["out"]
    scene = json.loads((out / "scene.json").read_text())
    assert scene["body_model"] == body.describe()
    result = np.load(out / "fighter_tori.npz", allow_pickle=False)
    J, V = len(body.bone_names), 10475
    assert list(result["bone_names"]) == body.bone_names
    assert result["bone_parents"].tolist() == body.bone_parents
    for key, shape in {"vertices": (V, 3), "keypoints3d": (25, 3), "keypoints2d": (25, 2), "pose": (J, 3),
                       "shape": (10,), "transl": (3,), "rest_heads": (J, 3), "rest_tails": (J, 3),
                       "skin_weights": (V, J), "bone_transforms": (J, 4, 4)}.items():
        assert result[key].shape == shape, key
    assert keypoint_error_px(project(smplx_result["K"], result["keypoints3d"]), smplx_result["points"]) < 5.0
    # Other SMPL-X tools rebuild the same body from the smplx_* parameters.
    import smplx

    plain = write_plain_copy(model_arrays(), tmp_path, "neutral")
    model = smplx.SMPLX(str(plain), use_pca=False, flat_hand_mean=True, num_betas=10)
    native = {k[len("smplx_"):]: torch.as_tensor(result[k])[None] for k in result.files
              if k.startswith("smplx_") and k != "smplx_gender"}
    rebuilt = model(**native).vertices[0].detach().numpy()
    assert np.abs(rebuilt - result["vertices"]).max() < 1e-4
    assert str(result["smplx_gender"]) == "neutral"


def test_blender_builds_the_smplx_fighter_as_an_armature_with_its_joint_names(smplx_result, body, empty_scene,
                                                                              blender, addon):
    """The add-on's own import of the result: SMPL-X's armature, and a skinned mesh that the
    armature poses onto the fitted body (pose correctives and all)."""
    from blender_addon import import_photo, world_points

    bpy = blender
    import_photo(bpy, smplx_result["photo"])
    assert addon.fighters.scene.apply_result(bpy.context, smplx_result["out"]) == ["tori"]
    armature = bpy.data.objects["Tori"]
    parents = {b.name: (b.parent.name if b.parent else None) for b in armature.data.bones}
    assert parents == {name: (body.bone_names[p] if p >= 0 else None)
                       for name, p in zip(body.bone_names, body.bone_parents)}
    mesh = bpy.data.objects["Tori body"]
    evaluated = mesh.evaluated_get(bpy.context.evaluated_depsgraph_get())
    data = evaluated.to_mesh()
    co = np.empty(len(data.vertices) * 3)
    data.vertices.foreach_get("co", co)
    world = np.array(evaluated.matrix_world)
    evaluated.to_mesh_clear()
    posed = co.reshape(-1, 3) @ world[:3, :3].T + world[:3, 3]
    fitted = np.load(smplx_result["out"] / "fighter_tori.npz")["vertices"].astype(np.float64)
    assert np.abs(posed - world_points(bpy.context.scene, fitted)).max() < 1e-3  # within a millimetre


def test_cli_reports_a_wrong_model_folder_in_one_line_before_detecting(tmp_path):
    photo = tmp_path / "photo.png"
    Image.fromarray(np.full((64, 48, 3), 128, np.uint8)).save(photo)
    proc = subprocess.run([sys.executable, "-m", "bridge", "reconstruct", photo, "--out", tmp_path / "r", "--body",
                           "smplx", "--model-folder", tmp_path / "models", "--events"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and str(tmp_path / "models") in lines[0]
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert events[-1]["code"] == "model_folder_missing"
    assert not any(e.get("stage") == "detect" for e in events)
    assert not (tmp_path / "r").exists()
