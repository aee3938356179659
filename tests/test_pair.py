"""Two bodies in one camera: they come apart when overlapping, a fighter from its own photo is
placed touching the other, the photo names the fighter whose colours it shows in front, and
the written front is the body the scene shows there."""
from types import SimpleNamespace

import cv2
import numpy as np
import roma
import torch

from bridge.geometry.camera import intrinsics
from bridge.geometry.penetration import interpenetration_m
from bridge.detection.roles import guess_roles
from bridge.keypoints import INDEX, PersonTarget
from bridge.fitting.pair import PairTerms, contact_sample, penetration_loss, photo_front, silhouette_overlap
from bridge.fitting.placement import place_in_contact
from bridge.geometry.raster import covers, silhouette_mask
from bridge.jobs.reconstruct import still_overlapping


def standing(body, x, z, yaw=0.0):
    pose = torch.zeros(1, len(body.bone_names), 3)
    turn = roma.rotvec_to_rotmat(torch.tensor([0.0, yaw, 0.0]))
    pose[0, 0] = roma.rotmat_to_rotvec(turn @ roma.rotvec_to_rotmat(body.base_orientation()))
    with torch.no_grad():
        return body.forward(body.default_shape(), pose, torch.tensor([[x, 0.1, z]])).vertices[0]


def test_penetration_term_pushes_overlapping_bodies_apart(body):
    faces = body.faces
    a = standing(body, 0.0, 3.0)
    b_rest = standing(body, 0.0, 3.0)
    shift = torch.tensor([0.2, 0.0, 0.05], requires_grad=True)  # half a body width: deep overlap
    assert interpenetration_m(a.numpy(), (b_rest + shift.detach()).numpy(), faces.numpy()) > 0.05
    optimizer = torch.optim.Adam([shift], lr=0.01)
    for _ in range(150):
        optimizer.zero_grad()
        b = b_rest + shift
        loss = penetration_loss(a, b, faces) + penetration_loss(b, a, faces)
        if float(loss.detach()) == 0.0:
            break
        loss.backward()
        optimizer.step()
    depth = interpenetration_m(a.numpy(), (b_rest + shift.detach()).numpy(), faces.numpy())
    assert depth < 0.01, f"still {1000 * depth:.0f} mm inside each other"


def test_thinned_contact_term_posing_only_what_it_needs_pushes_bodies_apart(body):
    """The fit's joint stage tests a tenth of each body's vertices and poses only those and the
    ones they meet: the whole meshes must still come apart."""
    shape = body.default_shape(2)
    pose = torch.zeros(2, len(body.bone_names), 3)
    pose[:, 0] = body.base_orientation()
    transl = torch.tensor([[0.0, 0.1, 3.0], [0.2, 0.1, 3.05]], requires_grad=True)  # deep overlap
    queries = contact_sample(body)
    assert 0.05 < len(queries) / body.faces.max().item() < 0.4
    terms = PairTerms(body.faces, refresh_steps=4, queries=queries)
    settings = SimpleNamespace(penetration_weight=500.0, grip_weight=0.0)
    whole = lambda: body.forward(shape, pose, transl.detach()).vertices.numpy()  # noqa: E731
    assert interpenetration_m(*whole(), body.faces.numpy()) > 0.05
    optimizer = torch.optim.Adam([transl], lr=0.01)
    for _ in range(150):
        if terms.due():
            with torch.no_grad():
                terms.find(body.forward(shape, pose, transl))
        assert len(terms.index) < 0.6 * body.faces.max().item()  # far fewer posed than the mesh holds
        optimizer.zero_grad()
        loss = terms.loss(body.forward_sample(shape, pose, transl, terms.index), settings)
        loss.backward()
        optimizer.step()
    depth = interpenetration_m(*whole(), body.faces.numpy())
    assert depth < 0.01, f"still {1000 * depth:.0f} mm inside each other"


def test_fighter_from_its_own_photo_is_placed_touching_without_overlap(body):
    faces = body.faces.numpy()
    a = standing(body, -0.1, 3.5).numpy()
    b = standing(body, 0.4, 4.5, yaw=np.pi).numpy()  # elsewhere in its own photo
    shift = place_in_contact(a, b, faces)
    moved = b + shift
    assert interpenetration_m(a, moved, faces) < 0.005
    from scipy.spatial import cKDTree

    gap = cKDTree(a).query(moved)[0].min()
    assert gap < 0.02, f"{1000 * gap:.0f} mm apart: not touching"
    assert abs(moved.mean(0)[2] - a.mean(0)[2]) < 0.05  # at the same depth
    assert moved.mean(0)[0] > a.mean(0)[0]  # on the side it stood in its photo


def test_the_photo_names_the_fighter_whose_colours_it_shows_where_the_two_overlap(body):
    """The colour vote that steers the pair's placement: the fighter whose gi the photo shows in
    the overlap, whichever mask claims it; none where both gis look the same."""
    K = intrinsics(256, 256)
    near, far = standing(body, 0.0, 3.0).numpy(), standing(body, 0.15, 3.6).numpy()
    faces = body.faces.numpy()
    overlap = silhouette_overlap([far, near], faces, K, 256, 256)
    assert overlap.any()
    near_mask = silhouette_mask(K, near, faces, 256, 256).astype(bool)
    far_mask = silhouette_mask(K, far, faces, 256, 256).astype(bool) & ~near_mask
    rgb = np.full((256, 256, 3), 128, np.uint8)
    rgb[far_mask], rgb[near_mask] = (40, 60, 200), (240, 240, 235)  # blue gi behind, white gi in front
    assert photo_front(rgb, [far_mask, near_mask], overlap) == 1
    assert photo_front(rgb, [near_mask, far_mask], overlap) == 0  # the masks name the fighters
    rgb[far_mask] = rgb[near_mask][0]  # both gis white: the photo cannot tell
    assert photo_front(rgb, [near_mask, far_mask], overlap) is None


def _person(neck, hip):
    points = np.zeros((25, 2))
    points[INDEX["neck"]], points[INDEX["mid_hip"]] = neck, hip
    return PersonTarget(points, np.ones(25))


def test_uke_is_the_fighter_further_from_upright():
    upright, upside_down = _person((100, 50), (100, 150)), _person((300, 200), (300, 100))
    assert guess_roles([upside_down, upright]) == (["uke", "tori"], True)
    assert guess_roles([upright, _person((320, 55), (300, 150))]) == (["tori", "uke"], False)


def test_bodies_left_passing_into_each_other_are_reported(body):
    """The joint stage cannot part two fits of one blended detection; the artist is told how deep."""
    def fit_at(x):
        return SimpleNamespace(output=SimpleNamespace(vertices=standing(body, x, 3.0)[None]))

    faces = body.faces.numpy()
    assert still_overlapping([fit_at(0.0), fit_at(1.0)], faces) == []
    warning, = still_overlapping([fit_at(0.0), fit_at(0.2)], faces)
    assert "cm into each other" in warning and "--tori-rect" in warning


def test_a_fighter_fitted_too_near_is_moved_back_to_where_the_two_touch(body):
    """Two fighters side by side at one depth; the second fitted 15% too near (and so 15% too
    small, as the photo shows it the same): the move along the camera's rays brings it back to
    the middle of the range where the two touch, its true depth."""
    from bridge.fitting.pair import depth_ratio

    faces = body.faces.numpy()
    a = standing(body, -0.2, 3.0).numpy()
    b = standing(body, 0.2, 3.0).numpy()
    b = b + place_in_contact(a, b, faces)  # touching, side by side
    ratio = depth_ratio([a, b / 1.15])
    assert abs(np.log(ratio / 1.15)) < 0.04, ratio


def test_a_fighter_fitted_far_behind_the_other_is_brought_to_stand_beside_it(body):
    """A partial detection gets a size, and so a depth, far off (three times as far here, and
    three times as large, as the photo shows it the same); where the two silhouettes do not meet,
    no depth makes them touch, and the fighter moves to where the two come nearest: its true
    depth, beside the other (before, it stayed metres behind)."""
    from bridge.fitting.pair import depth_ratio

    a = standing(body, -0.2, 3.0).numpy()
    beside = standing(body, 0.5, 3.0).numpy()  # 0.7 m to the side: they do not touch
    ratio = depth_ratio([a, beside * 3.0])
    assert abs(np.log(ratio * 3.0)) < 0.1, ratio


def test_a_wrist_on_the_other_fighter_is_found_without_drawing_its_silhouette(body):
    # The grip test asks whether a few pixels lie on the other's silhouette (raster.covers): it must
    # answer as the drawn silhouette does, except on the outline's own pixels.
    K = intrinsics(256, 256)
    faces = body.faces.numpy()
    vertices = standing(body, 0.0, 3.0, yaw=0.5).numpy()
    mask = silhouette_mask(K, vertices, faces, 256, 256).astype(bool)
    inner = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    outer = ~cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    rows, cols = np.mgrid[0:256:3, 0:256:3].reshape(2, -1)
    answer = covers(K, vertices, faces, np.stack([cols, rows], 1) + 0.5)
    assert answer[inner[rows, cols]].all() and not answer[outer[rows, cols]].any()
    assert inner[rows, cols].sum() > 100  # the body is on the photo


def test_the_written_front_is_the_body_the_scene_shows_in_front(body):
    """scene.json's `front` names the fighter the written bodies show where they overlap, in
    either order of the fighters, and the nearer one where they do not overlap."""
    from bridge.jobs.assemble import front_role

    K = intrinsics(256, 256)
    faces = body.faces.numpy()
    near, far = standing(body, 0.0, 3.0).numpy(), standing(body, 0.15, 3.6).numpy()
    arrays = {"tori": {"vertices": far, "faces": faces, "transl": np.array([0.15, 0.1, 3.6])},
              "uke": {"vertices": near, "faces": faces, "transl": np.array([0.0, 0.1, 3.0])}}
    assert front_role(arrays, K, 256, 256) == "uke"
    arrays["tori"]["vertices"], arrays["uke"]["vertices"] = near, far
    assert front_role(arrays, K, 256, 256) == "tori"
    apart = standing(body, 2.5, 3.6).numpy()  # outside the photo's overlap with the other
    assert not silhouette_overlap([apart, near], faces, K, 256, 256).any()
    arrays = {"tori": {"vertices": apart, "faces": faces, "transl": np.array([2.5, 0.1, 3.6])},
              "uke": {"vertices": near, "faces": faces, "transl": np.array([0.0, 0.1, 3.0])}}
    assert front_role(arrays, K, 256, 256) == "uke"


def test_a_fighter_fitted_far_behind_whose_silhouette_meets_the_others_stays_behind_it(body):
    """Fitted 2.5 times too far (past the usual range), its silhouette on the other's: of the
    depths where the two touch, it takes one that keeps it behind the other, as the fighter the
    other hides."""
    from bridge.fitting.pair import depth_ratio

    a = standing(body, 0.0, 3.0).numpy()
    b = standing(body, 0.15, 2.85).numpy() * 2.5  # where they touch, it could stand in front too
    ratio = depth_ratio([a, b])
    assert ratio < 0.6  # brought back from 7.5 m
    assert np.median(b[:, 2]) * ratio >= np.median(a[:, 2])
