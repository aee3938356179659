"""Refinement by differentiable rendering (Mitsuba 3 on the CPU): the renderer agrees with the
bridge's camera, refinement brings a disturbed pose back to the photo, selective refinement
leaves the rest of the body alone, and the commands behave."""
import json
import os
import cv2
import numpy as np
import pytest
import torch

from conftest import ROOT, run_bridge
from bridge.geometry.camera import project
from bridge.keypoints import INDEX
from bridge.fitting.state import FighterState
from bridge.refinement.refine import RefineSettings, RefineTarget, part_bones, refine_fighter
from bridge.refinement.render import MeshRenderer, View

SCENE = ROOT / "assets" / "scenes" / "osoto-gari_kuzushi_s31"
FAST = RefineSettings(iterations=60, resolution=160, preview_every=10)
LEGS_DISTURBED = {"upperleg01.L": (0.35, 0.0, 0.0), "lowerleg01.R": (0.0, 0.0, 0.0), "upperleg01.R": (-0.3, 0.0, 0.2)}
ARM_DISTURBED = {"upperarm01.L": (0.0, 0.0, 0.6), "lowerarm01.L": (0.5, 0.0, 0.0)}  # seen in the photo


@pytest.fixture(scope="module")
def scene():
    truth = dict(np.load(SCENE / "truth.npz"))
    rgb = cv2.cvtColor(cv2.imread(str(SCENE / "photo.jpg")), cv2.COLOR_BGR2RGB)
    masks = [cv2.imread(str(SCENE / f"mask_{i}.png"), cv2.IMREAD_GRAYSCALE) > 127 for i in range(2)]
    return truth, rgb, masks


def _disturbed(body, truth, person, changes):
    pose = torch.as_tensor(truth["pose"][person], dtype=torch.float32).clone()
    for bone, rotvec in changes.items():
        pose[body.bone_names.index(bone)] += torch.tensor(rotvec)
    return FighterState(torch.as_tensor(truth["shape"][person], dtype=torch.float32), pose,
                        torch.as_tensor(truth["transl"][person], dtype=torch.float32))


def _target(truth, rgb, masks, person):
    visible = truth["visibility"][person] > 0
    return RefineTarget(rgb, masks[person], masks[1 - person], truth["keypoints2d"][person], visible.astype(np.float32))


def _joints(body, state):
    with torch.no_grad():
        return body.forward(state.shape[None], state.pose[None], state.transl[None]).keypoints[0].numpy()


def test_renderer_draws_where_the_bridge_projects(body, scene):
    """The Mitsuba camera and the bridge's OpenCV camera agree, for the whole photo and a crop."""
    truth, rgb, _ = scene
    K = truth["K"]
    height, width = rgb.shape[:2]
    vertices = torch.as_tensor(truth["vertices"][0], dtype=torch.float32)
    for window in (None, (100, 150, 400, 450)):
        view = View.of_photo(K, width, height, 200, window)
        renderer = MeshRenderer(body.faces.numpy(), view, "cpu")
        coverage = np.mean([renderer.render(vertices)[..., 0].numpy() for _ in range(4)], axis=0)
        rows, cols = np.mgrid[:view.height, :view.width]
        centre = np.array([(coverage * cols).sum(), (coverage * rows).sum()]) / coverage.sum()
        # The projected vertices, weighted by the image area they stand for, approximated by
        # rasterising the same mesh with OpenCV at 4x and taking its centroid.
        pixels = project(view.K, vertices.numpy())
        fine = np.zeros((view.height * 4, view.width * 4), np.uint8)
        for tri in np.round((pixels[body.faces.numpy()] * 4 - 0.5) * 16).astype(np.int32):
            cv2.fillConvexPoly(fine, tri, 1, lineType=cv2.LINE_8, shift=4)
        fine_rows, fine_cols = np.nonzero(fine)
        expected = np.array([(fine_cols + 0.5).mean() / 4 - 0.5, (fine_rows + 0.5).mean() / 4 - 0.5])
        assert np.abs(centre - expected).max() < 0.5, (window, centre, expected)


def test_refinement_brings_a_disturbed_pose_back_to_the_photo(body, scene):
    truth, rgb, masks = scene
    start = _disturbed(body, truth, 0, ARM_DISTURBED)
    state, stats = refine_fighter(body, start, _target(truth, rgb, masks, 0), truth["K"], FAST, device="cpu")
    before, after = stats.silhouette_error
    assert after < 0.8 * before, stats
    arm = [INDEX["left_elbow"], INDEX["left_wrist"]]  # the joints the disturbance moved
    error = lambda s: np.linalg.norm(_joints(body, s)[arm] - truth["keypoints3d"][0][arm], axis=1).mean()  # noqa: E731
    assert error(state) < 0.7 * error(start), (error(start), error(state))


def test_refining_only_the_legs_leaves_the_upper_body_where_it_was(body, scene):
    truth, rgb, masks = scene
    start = _disturbed(body, truth, 0, LEGS_DISTURBED)
    bones = part_bones(body, "legs", None)
    state, stats = refine_fighter(body, start, _target(truth, rgb, masks, 0), truth["K"], FAST, bones=bones,
                                  device="cpu", skin_weights=body.rest_skeleton(start.shape)["skin_weights"])
    moved = np.linalg.norm(_joints(body, state) - _joints(body, start), axis=1)
    upper = [0, 1, 2, 3, 4, 5, 6, 7, 8, 15, 16, 17, 18]  # head, neck, arms, mid-hip, eyes, ears
    legs = [10, 11, 13, 14, 19, 20, 21, 22, 23, 24]
    assert moved[upper].max() < 0.01
    assert moved[legs].max() > 0.02
    assert stats.silhouette_error[1] < stats.silhouette_error[0]
    assert set(stats.moved_bones) <= set(bones)


def test_framing_moves_only_what_the_window_sees(body, scene):
    truth, rgb, masks = scene
    start = _disturbed(body, truth, 0, LEGS_DISTURBED)
    legs = project(truth["K"], truth["keypoints3d"][0][[10, 11, 13, 14, 19, 22]])
    x0, y0 = legs.min(0) - 40
    x1, y1 = legs.max(0) + 40
    window = tuple(int(v) for v in (max(x0, 0), max(y0, 0), min(x1, rgb.shape[1]), min(y1, rgb.shape[0])))
    state, stats = refine_fighter(body, start, _target(truth, rgb, masks, 0), truth["K"], FAST, window=window,
                                  device="cpu", skin_weights=body.rest_skeleton(start.shape)["skin_weights"])
    moved = np.linalg.norm(_joints(body, state) - _joints(body, start), axis=1)
    assert moved[[0, 1, 2, 3, 4, 5, 6, 7]].max() < 0.01  # head, neck and arms are out of the frame
    assert stats.silhouette_error[1] < stats.silhouette_error[0]


def test_raw_vertex_mode_moves_the_mesh_and_keeps_it_a_surface(body, scene):
    truth, rgb, masks = scene
    start = _disturbed(body, truth, 0, ARM_DISTURBED)
    settings = RefineSettings(iterations=15, resolution=128, raw_vertices=True)
    state, stats = refine_fighter(body, start, _target(truth, rgb, masks, 0), truth["K"], settings, device="cpu")
    assert state.vertices is not None
    start_vertices = body.forward(start.shape[None], start.pose[None], start.transl[None]).vertices[0]
    shift = (state.vertices - start_vertices.detach()).norm(dim=-1)
    assert shift.max() > 1e-4 and shift.max() < 0.05  # moved, but no vertex flew off
    assert stats.silhouette_error[1] <= stats.silhouette_error[0] + 0.01


def test_artist_pose_round_trip(body, scene):
    """A pose set in Blender (posed bone frames) comes back as the same body."""
    truth, _, _ = scene
    shape = torch.as_tensor(truth["shape"][1], dtype=torch.float32)
    pose = torch.as_tensor(truth["pose"][1], dtype=torch.float32)
    transl = torch.as_tensor(truth["transl"][1], dtype=torch.float32)
    out = body.forward(shape[None], pose[None], transl[None])
    pose2, transl2 = body.pose_from_bone_poses(shape, out.bone_poses[0])
    again = body.forward(shape[None], pose2[None], transl2[None])
    assert (again.vertices - out.vertices).abs().max() < 1e-4


def test_refine_command_starts_from_the_artist_pose_and_previews(fitted_sample, body, tmp_path):
    with np.load(fitted_sample / "fighter_tori.npz") as data:
        fitted = {k: data[k] for k in data.files}
    artist_pose = fitted["pose"].copy()
    artist_pose[body.bone_names.index("upperarm01.L")] += (0.0, 0.0, 0.5)
    out = body.forward(torch.as_tensor(fitted["shape"])[None], torch.as_tensor(artist_pose)[None],
                       torch.as_tensor(fitted["transl"])[None])
    scene_dir = tmp_path / "scene"
    done = run_bridge("refine", fitted_sample, "--out", scene_dir, "--iterations", "1")
    assert done.returncode == 0, done.stderr
    np.savez(scene_dir / "artist_pose_tori.npz", bone_poses=out.bone_poses[0].numpy())
    done = run_bridge("refine", scene_dir, "--iterations", "12", "--resolution", "128", "--events")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    previews = [e["preview"] for e in events if e["type"] == "progress" and "preview" in e]
    assert previews and os.path.exists(previews[-1])
    strip = cv2.imread(previews[-1])
    assert strip.shape[1] == 3 * 96  # rendering, photo and error side by side (128 tall, 96 wide each)
    result = [e for e in events if e["type"] == "result"][0]
    assert "tori" in result["refine"]
    with np.load(scene_dir / "fighter_tori.npz") as data:
        refined_pose = data["pose"]
    arm = body.bone_names.index("upperarm01.L")
    # Started from the artist's arm, not the fit's: a dozen small steps cannot undo 0.5 rad.
    assert abs(refined_pose[arm, 2] - artist_pose[arm, 2]) < abs(refined_pose[arm, 2] - fitted["pose"][arm, 2])
    assert not (scene_dir / "artist_pose_tori.npz").exists()  # used up: the next job starts from the result


def test_refine_of_a_folder_without_a_result_says_so(tmp_path):
    done = run_bridge("refine", tmp_path, "--events")
    assert done.returncode == 1
    assert json.loads(done.stdout.splitlines()[-1])["code"] == "result_missing"
    assert "reconstruct" in done.stderr


def test_without_mitsuba_fitting_works_and_refinement_says_what_to_install(fitted_sample, tmp_path):
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text("import sys\nsys.modules['mitsuba'] = None\n")
    env = dict(os.environ, PYTHONPATH=str(blocker))
    done = run_bridge("refine", fitted_sample, "--out", tmp_path / "out", env=env)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("error: Refinement needs the Mitsuba 3 renderer")
    assert "pip install mitsuba" in done.stderr
    assert not (tmp_path / "out").exists()


def test_a_missing_llvm_is_named_with_the_fix(fitted_sample, tmp_path):
    env = dict(os.environ, DRJIT_LIBLLVM_PATH=str(tmp_path / "libLLVM-missing.so"))
    done = run_bridge("refine", fitted_sample, "--out", tmp_path / "out", "--device", "cpu", env=env)
    assert done.returncode == 1
    assert "libllvm19" in done.stderr
    assert not (tmp_path / "out").exists()
