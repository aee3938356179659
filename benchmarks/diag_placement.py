"""Where the pair's placement error comes from (issue 19): per two-fighter scene, from its TRUE 2D
keypoints, each pelvis' error split along and across the camera ray, each body's size against
the truth (summed bone lengths), the floor the joint stage settled on against the true camera
height and pitch, before the joint stage (the separate fits) and after it.

    python benchmarks/diag_placement.py [SCENE_DIR ...] [--json OUT.json]

Default scenes: the committed two-fighter set. Scenes with a referee score the true fighters only
(truth.json's fighter_indices).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_reconstruct import _Quiet, fighter_indices, write_true_keypoints  # noqa: E402
from bridge.geometry.camera import project  # noqa: E402
from bridge.metrics import match_people, pa_mpjpe  # noqa: E402

PELVIS = 8
CAPTURE: Path | None = None  # --capture DIR: the separate fits saved per scene
BONES = [(1, 8), (2, 3), (3, 4), (5, 6), (6, 7), (9, 10), (10, 11), (12, 13), (13, 14), (2, 5), (9, 12)]


def size(k):
    return float(sum(np.linalg.norm(k[a] - k[b]) for a, b in BONES))


def true_floor(world_from_camera):
    """Camera height above the floor (world z = 0) and pitch down (radians)."""
    R, t = world_from_camera[:3, :3], world_from_camera[:3, 3]
    forward = R[:, 2]  # OpenCV z in the world
    return float(t[2]), float(-math.asin(np.clip(forward[2], -1, 1)))


def split(error, ray):
    ray = ray / np.linalg.norm(ray)
    along = float(error @ ray)
    return along, float(np.linalg.norm(error - along * ray))


def describe(label, fitted, true):
    """fitted/true: (2, 25, 3) in camera coordinates, matched."""
    out = {}
    for i in range(2):
        e = fitted[i][PELVIS] - true[i][PELVIS]
        along, across = split(e, true[i][PELVIS])
        out[f"p{i}"] = {"along_mm": round(1000 * along), "across_mm": round(1000 * across),
                        "depth_ratio": round(fitted[i][PELVIS][2] / true[i][PELVIS][2], 3),
                        "size_ratio": round(size(fitted[i]) / size(true[i]), 3),
                        "pa_mm": round(1000 * pa_mpjpe(fitted[i], true[i]))}
    fv = fitted[1][PELVIS] - fitted[0][PELVIS]
    tv = true[1][PELVIS] - true[0][PELVIS]
    mid = 0.5 * (true[0][PELVIS] + true[1][PELVIS])
    along, across = split(fv - tv, mid)
    out["vector_mm"] = round(1000 * float(np.linalg.norm(fv - tv)))
    out["vector_along_mm"], out["vector_across_mm"] = round(1000 * along), round(1000 * across)
    out["true_vector_mm"] = round(1000 * float(np.linalg.norm(tv)))
    out["pair_pa_mm"] = round(1000 * pa_mpjpe(np.concatenate(list(fitted)), np.concatenate(list(true))))
    print(f"  {label:<9} vec {out['vector_mm']:>5} (along {out['vector_along_mm']:>5} across {out['vector_across_mm']:>4}, "
          f"true |v| {out['true_vector_mm']:>4}) pair {out['pair_pa_mm']:>4} | "
          + " | ".join(f"p{i}: along {out[f'p{i}']['along_mm']:>5} across {out[f'p{i}']['across_mm']:>4} "
                       f"z {out[f'p{i}']['depth_ratio']:.3f} size {out[f'p{i}']['size_ratio']:.3f} "
                       f"PA {out[f'p{i}']['pa_mm']:>3}" for i in range(2)))
    return out


def run_scene(scene: Path, work: Path) -> dict:
    import bridge.fitting.fit as fit_module
    from bridge.jobs.reconstruct import reconstruct

    truth = np.load(scene / "truth.npz")
    info = json.loads((scene / "truth.json").read_text())
    keep = fighter_indices(info, len(truth["keypoints2d"]))
    captured = {}
    original_floor = fit_module.FloorTerm

    class Floor(original_floor):
        def __init__(self, estimate):
            super().__init__(estimate)
            captured["floor_start"] = (estimate.pitch, estimate.height, [len(f) for f in estimate.touching])
            captured["floor"] = self

    def wrap_pair(pair):
        def inner(separate):
            captured["separate"] = np.stack([f.output.keypoints[0].numpy() for f in separate])
            captured["separate_vertices"] = np.stack([f.output.vertices[0].numpy() for f in separate])
            terms = pair(separate)
            captured["depth_ratio"] = terms.depth_ratio
            return terms
        return inner

    original_fit_people = fit_module.fit_people

    def fit_people(*args, pair=None, **kwargs):
        return original_fit_people(*args, pair=None if pair is None else wrap_pair(pair), **kwargs)

    fit_module.FloorTerm = Floor
    fit_module.fit_people = fit_people
    try:
        keypoints = write_true_keypoints(truth, work / f"{scene.name}.keypoints.json", int(info["width"]),
                                         int(info["height"]), keep)
        started = time.perf_counter()
        reconstruct(scene / "photo.jpg", work / scene.name, people=len(keep), reporter=_Quiet(),
                    keypoints_file=keypoints)
        seconds = time.perf_counter() - started
    finally:
        fit_module.FloorTerm = original_floor
        fit_module.fit_people = original_fit_people
    result = json.loads((work / scene.name / "scene.json").read_text())
    K = np.array(result["camera"]["K"])
    roles = list(result["fighters"])
    final = np.stack([np.load(work / scene.name / f"fighter_{r}.npz")["keypoints3d"] for r in roles])
    true3d = truth["keypoints3d"][keep]
    matched = match_people([project(K, k) for k in final], truth["keypoints2d"][keep])
    true3d = true3d[matched]
    height, pitch = true_floor(truth["world_from_camera"])
    row = {"scene": scene.name, "seconds": round(seconds, 1), "true_camera_height_m": round(height, 3),
           "true_pitch_deg": round(math.degrees(pitch), 2), "K_focal_px": float(K[0, 0]),
           "true_focal_px": float(truth["K"][0, 0])}
    print(f"{scene.name}: {seconds:.1f} s, focal {K[0, 0]:.0f} px (true {truth['K'][0, 0]:.0f}); "
          f"true camera {height:.2f} m, pitch {math.degrees(pitch):.1f} deg", flush=True)
    if "separate" in captured:
        row["separate"] = describe("separate", captured["separate"], true3d)
        row["depth_ratio"] = captured["depth_ratio"]
    row["final"] = describe("final", final, true3d)
    if CAPTURE is not None and "separate" in captured:  # the separate fits, for offline study
        CAPTURE.mkdir(parents=True, exist_ok=True)
        np.savez(CAPTURE / f"{scene.name}.npz", keypoints=captured["separate"],
                 vertices=captured["separate_vertices"], K=K, true3d=true3d, final=final,
                 points=truth["keypoints2d"][keep][matched], world_from_camera=truth["world_from_camera"])
    if "floor" in captured:
        floor = captured["floor"].describe()
        start = captured["floor_start"]
        row["floor"] = {"start_pitch_deg": round(math.degrees(start[0]), 2), "start_height_m": round(start[1], 3),
                        "touching": start[2], **floor}
        print(f"  floor: start height {start[1]:.2f} m, touching {start[2]}; end pitch {floor['pitch_degrees']} deg, "
              f"height {floor['camera_height_m']} m; depth_ratio {captured['depth_ratio']:.3f}", flush=True)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenes", nargs="*", type=Path)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--capture", type=Path, default=None, help="save each scene's separate fits here")
    args = parser.parse_args(argv)
    global CAPTURE
    CAPTURE = args.capture
    from bridge.body import load_body_model

    load_body_model("anny")
    scenes = args.scenes or sorted(p for p in (ROOT / "assets" / "scenes").glob("*") if (p / "truth.npz").is_file())
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for scene in scenes:
            rows.append(run_scene(scene, Path(work)))
    finals = [r["final"] for r in rows]
    print(f"mean pelvis vector {np.mean([f['vector_mm'] for f in finals]):.0f} mm, "
          f"pair {np.mean([f['pair_pa_mm'] for f in finals]):.0f} mm, "
          f"PA {np.mean([f[f'p{i}']['pa_mm'] for f in finals for i in range(2)]):.1f} mm, "
          f"seconds {np.mean([r['seconds'] for r in rows]):.1f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
