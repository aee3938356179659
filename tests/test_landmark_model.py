"""The heavy landmark model ships with the bridge (Apache-2.0, with its licence) and the detector
runs it offline: mediapipe's legacy solution looks for it inside its own package, where the
bridge puts it once, whole or not at all."""
import hashlib
from pathlib import Path

from bridge.detection import mediapipe_pose

SHIPPED_SHA256 = "59e42d71bcd44cbdbabc419f0ff76686595fd265419566bd4009ef703ea8e1fe"


def test_the_shipped_model_is_the_published_one_with_its_licence():
    digest = hashlib.sha256(mediapipe_pose.HEAVY_MODEL.read_bytes()).hexdigest()
    assert digest == SHIPPED_SHA256
    folder = mediapipe_pose.HEAVY_MODEL.parent
    assert "Apache License" in (folder / "LICENSE").read_text()
    assert SHIPPED_SHA256 in (folder / "NOTICE").read_text()


def _package(tmp_path: Path) -> Path:
    (tmp_path / "mediapipe" / "modules" / "pose_landmark").mkdir(parents=True)
    return tmp_path / "mediapipe"


def test_the_model_is_put_into_the_package_once_and_whole(tmp_path):
    source = tmp_path / "heavy.tflite"
    source.write_bytes(b"model" * 1000)
    package = _package(tmp_path)
    target = package / "modules" / "pose_landmark" / "pose_landmark_heavy.tflite"
    assert mediapipe_pose.heavy_in_package(package, source)
    assert target.read_bytes() == source.read_bytes()
    stamp = target.stat().st_mtime_ns
    assert mediapipe_pose.heavy_in_package(package, source) and target.stat().st_mtime_ns == stamp  # not copied again
    target.write_bytes(b"half")  # an interrupted copy by some other tool is replaced
    assert mediapipe_pose.heavy_in_package(package, source) and target.read_bytes() == source.read_bytes()
    assert not list(target.parent.glob("*.part"))


def test_without_the_model_or_a_writable_package_the_full_model_is_used(tmp_path):
    package = _package(tmp_path)
    assert not mediapipe_pose.heavy_in_package(package, tmp_path / "missing.tflite")
    source = tmp_path / "heavy.tflite"
    source.write_bytes(b"model")
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the package's folder should be")
    assert not mediapipe_pose.heavy_in_package(blocked, source)
    assert not (package / "modules" / "pose_landmark" / "pose_landmark_heavy.tflite").exists()


def test_the_heavy_model_runs_offline_when_chosen_and_finds_the_sample_person(sample_truth):
    """Selectable (bench --landmark heavy): mediapipe would download it if the bridge had not put it
    in its package; on the sample it finds the person as well as full does."""
    import numpy as np

    from bridge.imaging.photo import load_photo
    from conftest import SAMPLE

    assert mediapipe_pose.landmark_model_in_use("heavy") == "heavy"
    found = mediapipe_pose.detect_body25(load_photo(SAMPLE / "photo.jpg").rgb, 0, "heavy")
    confident = found.confidence > 0.5
    errors = np.linalg.norm(found.points - sample_truth["keypoints2d"][0], axis=1)
    assert confident.sum() >= 15 and np.median(errors[confident]) < 8.0
