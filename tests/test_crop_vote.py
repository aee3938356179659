"""The crop vote over two landmark models: the detector's own views rank the people, and the
placing model's detections may stand for a person (the more confident one) but never outvote.

Fast: MediaPipe is replaced by a stand-in that returns fixed people per view.
"""
from __future__ import annotations

import numpy as np
import pytest

from bridge.detection import mediapipe_pose
from bridge.detection.mediapipe_pose import Detection
from bridge.detection.sources import mediapipe_crops


def _person(x: float, confidence: float) -> Detection:
    """A standing body of 25 keypoints around column x, in full-photo pixels."""
    rng = np.random.default_rng(int(x))
    points = np.stack([np.full(25, x), np.linspace(20, 220, 25)], axis=1) + rng.normal(0, 3, (25, 2))
    points[:, 0] += np.linspace(-30, 30, 25)
    return Detection(points, np.full(25, confidence), np.zeros((25, 3)))


@pytest.fixture
def two_models(monkeypatch):
    """Full sees person A in 3 views and B in 2; heavy sees B in every view and A, more
    confidently, in one. Views are returned for the whole photo only (the others see nobody)."""
    def views(views, model=None):
        model = model or mediapipe_pose.LANDMARK_MODEL
        out = [None] * len(views)
        if model == "full":
            plan = [("A", 0.6), ("A", 0.6), ("A", 0.6), ("B", 0.7), ("B", 0.7)]
        else:
            plan = [("A", 0.95)] + [("B", 0.9)] * (len(views) - 1)
        for i, (name, confidence) in enumerate(plan):
            found = _person(100.0 if name == "A" else 400.0, confidence)
            out[i] = found
        return out

    monkeypatch.setattr(mediapipe_crops, "CROPS", ((0.0, 0.0, 1.0, 1.0),) * 3)  # no offsets to undo
    monkeypatch.setattr(mediapipe_crops, "detect_views", views)
    monkeypatch.setattr(mediapipe_pose, "landmark_model_in_use", lambda model=None: model or mediapipe_pose.LANDMARK_MODEL)
    return np.zeros((256, 512, 3), np.uint8)


def test_the_detectors_views_rank_and_the_placing_model_places(two_models, monkeypatch):
    monkeypatch.setattr(mediapipe_crops, "PLACING_MODEL", "heavy")
    first, second = mediapipe_crops.candidate_people(two_models)
    assert first.points[:, 0].mean() < 250  # A: 3 of full's views against B's 2, whatever heavy saw
    assert (first.views, second.views) == (3, 2)
    assert first.confidence.mean() == pytest.approx(0.95)  # heavy's more confident view stands for A
    assert second.confidence.mean() == pytest.approx(0.9)


def test_without_a_placing_model_only_the_detectors_views_are_run(two_models, monkeypatch):
    monkeypatch.setattr(mediapipe_crops, "PLACING_MODEL", None)
    people = mediapipe_crops.candidate_people(two_models)
    assert [p.views for p in people] == [3, 2]
    assert [round(float(p.confidence.mean()), 2) for p in people] == [0.6, 0.7]


def test_heavy_as_the_detectors_model_runs_once(two_models, monkeypatch):
    monkeypatch.setattr(mediapipe_pose, "LANDMARK_MODEL", "heavy")
    monkeypatch.setattr(mediapipe_crops, "PLACING_MODEL", "heavy")
    assert mediapipe_crops.placing_model() is None
    people = mediapipe_crops.candidate_people(two_models)
    assert people[0].points[:, 0].mean() > 250 and people[0].views == 7  # heavy's own vote: B
