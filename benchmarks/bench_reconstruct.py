"""Time per stage, peak memory and accuracy of `reconstruct` on scenes with ground truth.

    python build.py bench [--scenes DIR ...] [--json OUT.json]

Each scene folder holds photo.jpg and truth.npz (as tools/render_scene.py writes them).
The model cache is built before timing (build.py does it once), so "model" is a load.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge.camera import project  # noqa: E402
from bridge.metrics import keypoint_error_px, mpjpe, pa_mpjpe  # noqa: E402
from bridge.progress import Reporter  # noqa: E402
from bridge.reconstruct import reconstruct  # noqa: E402


class _Quiet(Reporter):
    def progress(self, *args, **kwargs):
        pass


def bench_scene(scene: Path, work: Path) -> dict:
    truth = np.load(scene / "truth.npz")
    started = time.perf_counter()
    report = reconstruct(scene / "photo.jpg", work / scene.name, reporter=_Quiet())
    total = time.perf_counter() - started
    fighter = np.load(work / scene.name / "fighter_tori.npz")
    scene_json = json.loads((work / scene.name / "scene.json").read_text())
    K = np.array(scene_json["camera"]["K"])
    true_2d, true_3d = truth["keypoints2d"][0], truth["keypoints3d"][0]
    detected = fighter["keypoint_confidence"] > 0
    return {
        "scene": scene.name,
        "seconds": {**{k: round(v, 3) for k, v in report.seconds.items()}, "total": round(total, 3)},
        "peak_memory_mb": round(report.peak_memory_mb, 1),
        "detector_2d_px": round(keypoint_error_px(fighter["keypoints2d"], true_2d, detected), 2),
        "fit_2d_px": round(keypoint_error_px(project(K, fighter["keypoints3d"]), true_2d), 2),
        "pa_mpjpe_mm": round(1000 * pa_mpjpe(fighter["keypoints3d"], true_3d), 1),
        "mpjpe_mm": round(1000 * mpjpe(fighter["keypoints3d"], true_3d), 1),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", nargs="*", type=Path, default=[ROOT / "assets" / "sample"])
    parser.add_argument("--json", type=Path, default=ROOT / "out" / "bench.json")
    args = parser.parse_args(argv)
    from bridge.body import load_body_model

    load_body_model("anny")  # the one-time cache, outside the timings
    with tempfile.TemporaryDirectory() as work:
        rows = [bench_scene(scene, Path(work)) for scene in args.scenes]
    header = f"{'scene':<14}{'load s':>8}{'detect s':>10}{'fit s':>8}{'total s':>9}{'peak MB':>9}" \
             f"{'det px':>8}{'fit px':>8}{'PA-MPJPE':>10}{'MPJPE':>8}"
    print("stages run: load, detect (MediaPipe), fit (Anny keypoint fit)")
    print(header)
    for r in rows:
        s = r["seconds"]
        print(f"{r['scene']:<14}{s['load']:>8.2f}{s['detect']:>10.2f}{s['fit']:>8.2f}{s['total']:>9.2f}"
              f"{r['peak_memory_mb']:>9.0f}{r['detector_2d_px']:>8.2f}{r['fit_2d_px']:>8.2f}"
              f"{r['pa_mpjpe_mm']:>9.1f}mm{r['mpjpe_mm']:>6.0f}mm")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"scenes": rows}, indent=2))
    print(f"written {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
