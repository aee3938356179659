"""Resolve contact: two bodies pushed into each other come apart and stay on the photo."""
import json

import numpy as np
import torch

from conftest import ROOT, run_bridge
from bridge.geometry.camera import project
from bridge.geometry.penetration import interpenetration_m
from bridge.fitting.state import FighterState
from bridge.fitting.contact import resolve_contact

SCENE = ROOT / "assets" / "scenes" / "osoto-gari_kuzushi_s31"


def _overlap(body, states):
    vertices = [body.forward(s.shape[None], s.pose[None], s.transl[None]).vertices[0].detach().numpy().astype(float)
                for s in states]
    return interpenetration_m(vertices[0], vertices[1], body.faces.numpy())


def test_bodies_pushed_into_each_other_come_apart(body):
    truth = dict(np.load(SCENE / "truth.npz"))
    states = [FighterState(*(torch.as_tensor(truth[k][i], dtype=torch.float32) for k in ("shape", "pose", "transl")))
              for i in range(2)]
    towards = torch.as_tensor(truth["transl"][0] - truth["transl"][1], dtype=torch.float32)
    states[1].transl = states[1].transl + 0.12 * towards / towards.norm()  # the artist dragged uke into tori
    assert _overlap(body, states) > 0.03
    confidence = [np.where(v > 0, 0.9, 0.0) for v in truth["visibility"]]
    moved = resolve_contact(body, states, list(truth["keypoints2d"]), confidence, truth["K"], 512, 512, steps=40)
    assert _overlap(body, moved) <= 0.01
    tori = body.forward(moved[0].shape[None], moved[0].pose[None], moved[0].transl[None]).keypoints[0].numpy()
    assert np.median(np.linalg.norm(project(truth["K"], tori) - truth["keypoints2d"][0], axis=1)) < 15


def test_one_fighter_cannot_resolve_contact(fitted_sample):
    done = run_bridge("resolve-contact", fitted_sample, "--events")
    assert done.returncode == 1
    assert json.loads(done.stdout.splitlines()[-1])["code"] == "needs_two_fighters"
    assert "--people 2" in done.stderr
