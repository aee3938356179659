"""Time per stage, peak memory and accuracy of `reconstruct` on scenes with ground truth.

    python build.py bench [--scenes DIR ...] [--json OUT.json]

Each scene folder holds photo.jpg, truth.npz, truth.json and mask_<i>.png, as
tools/render_scene.py and tools/judo_scenes.py write them. The default set is the committed
one: assets/scenes/* and assets/sample. More scenes: `python tools/judo_scenes.py --out DIR
--seed S --count N`, then `python build.py bench --scenes DIR/*`.
Fitted people are matched to the true ones by their keypoints in the image, so a swapped
role still scores its body; the role column says whether the role was right.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge.camera import project  # noqa: E402
from bridge.contact import interpenetration_m  # noqa: E402
from bridge.metrics import keypoint_error_px, match_people, mpjpe, pa_mpjpe, silhouette_iou  # noqa: E402
from bridge.progress import Reporter  # noqa: E402
from bridge.raster import silhouette_mask  # noqa: E402
from bridge.reconstruct import reconstruct  # noqa: E402

STAGES_RUN = "load, detect (MediaPipe + GrabCut), fit (Anny keypoint fit; joint stage for two)"
STAGES_MISSING = "refine (differentiable rendering) does not exist yet, so there is no 'after refinement' " \
                 "row and no L2 image error (it needs a rendering of the fit)"


class _Quiet(Reporter):
    def progress(self, *args, **kwargs):
        pass


def _default_scenes() -> list[Path]:
    scenes = sorted(p for p in (ROOT / "assets" / "scenes").glob("*") if (p / "truth.npz").is_file())
    return scenes + [ROOT / "assets" / "sample"]


def _person_row(fighter, role, truth, truth_roles, index, K, width, height, scene_dir) -> dict:
    """Accuracy of one fitted fighter against true person `index`."""
    true_2d, true_3d = truth["keypoints2d"][index], truth["keypoints3d"][index]
    found = fighter["keypoint_confidence"] > 0
    fitted_mask = silhouette_mask(K, fighter["vertices"], fighter["faces"], width, height).astype(bool)
    true_mask = np.asarray(Image.open(scene_dir / f"mask_{index}.png")) > 127
    return {
        "role": role,
        "true_role": truth_roles[index],
        "detector_2d_px": round(keypoint_error_px(fighter["keypoints2d"], true_2d, found), 2) if found.any() else None,
        "fit_2d_px": round(keypoint_error_px(project(K, fighter["keypoints3d"]), true_2d), 2),
        "pa_mpjpe_mm": round(1000 * pa_mpjpe(fighter["keypoints3d"], true_3d), 1),
        "mpjpe_mm": round(1000 * mpjpe(fighter["keypoints3d"], true_3d), 1),
        "pa_vertex_mm": round(1000 * pa_mpjpe(fighter["vertices"], truth["vertices"][index]), 1),
        "silhouette_iou": round(silhouette_iou(fitted_mask, true_mask), 3),
    }


def bench_scene(scene: Path, work: Path) -> dict:
    truth = np.load(scene / "truth.npz")
    info = json.loads((scene / "truth.json").read_text())
    count = int(info.get("people", len(truth["keypoints2d"])))
    truth_roles = info.get("roles", ["tori", "uke"][:count])
    out = work / scene.name
    started = time.perf_counter()
    report = reconstruct(scene / "photo.jpg", out, people=count, reporter=_Quiet())
    total = time.perf_counter() - started
    result = json.loads((out / "scene.json").read_text())
    K = np.array(result["camera"]["K"])
    width, height = result["image"]["width"], result["image"]["height"]
    fighters = {role: dict(np.load(out / f"fighter_{role}.npz")) for role in result["fighters"]}
    roles = list(fighters)
    matched = match_people([project(K, fighters[r]["keypoints3d"]) for r in roles], truth["keypoints2d"])
    people = [_person_row(fighters[r], r, truth, truth_roles, i, K, width, height, scene) for r, i in zip(roles, matched)]
    row = {
        "scene": scene.name,
        "people_true": count,
        "people_fitted": len(roles),
        "seconds": {**{k: round(v, 3) for k, v in report.seconds.items()}, "total": round(total, 3)},
        "peak_memory_mb": round(report.peak_memory_mb, 1),
        "people": people,
        "warnings": report.warnings,
    }
    if len(roles) == 2:
        fitted_joints = np.concatenate([fighters[r]["keypoints3d"] for r in roles])
        true_joints = np.concatenate([truth["keypoints3d"][i] for i in matched])
        row["pair_pa_mpjpe_mm"] = round(1000 * pa_mpjpe(fitted_joints, true_joints), 1)
        row["interpenetration_mm"] = round(1000 * interpenetration_m(
            fighters[roles[0]]["vertices"].astype(float), fighters[roles[1]]["vertices"].astype(float),
            fighters[roles[0]]["faces"]), 1)
        true_front = info.get("front")
        if true_front is not None:
            fitted_front_person = matched[roles.index(result["front"])]
            row["depth_order_right"] = truth_roles[fitted_front_person] == true_front
    return row


def _mean(values):
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else float("nan")


def summary(rows: list[dict]) -> dict:
    people = [p for r in rows for p in r["people"]]
    pairs = [r for r in rows if "pair_pa_mpjpe_mm" in r]
    ordered = [r["depth_order_right"] for r in pairs if "depth_order_right" in r]
    return {
        "scenes": len(rows),
        "people_found": f"{sum(r['people_fitted'] for r in rows)}/{sum(r['people_true'] for r in rows)}",
        "mean_total_s": round(_mean([r["seconds"]["total"] for r in rows]), 2),
        "max_total_s": round(max(r["seconds"]["total"] for r in rows), 2),
        "mean_fit_s": round(_mean([r["seconds"]["fit"] for r in rows]), 2),
        "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "detector_2d_px": round(_mean([p["detector_2d_px"] for p in people]), 2),
        "fit_2d_px": round(_mean([p["fit_2d_px"] for p in people]), 2),
        "pa_mpjpe_mm": round(_mean([p["pa_mpjpe_mm"] for p in people]), 1),
        "mpjpe_mm": round(_mean([p["mpjpe_mm"] for p in people]), 1),
        "pa_vertex_mm": round(_mean([p["pa_vertex_mm"] for p in people]), 1),
        "silhouette_iou": round(_mean([p["silhouette_iou"] for p in people]), 3),
        "roles_right": f"{sum(p['role'] == p['true_role'] for p in people)}/{len(people)}",
        "pair_pa_mpjpe_mm": round(_mean([r["pair_pa_mpjpe_mm"] for r in pairs]), 1),
        "max_interpenetration_mm": max((r["interpenetration_mm"] for r in pairs), default=None),
        "depth_order_right": f"{sum(ordered)}/{len(ordered)}",
        "l2_image_error_percent": None,
    }


def print_table(rows: list[dict], totals: dict) -> None:
    print(f"stages run: {STAGES_RUN}")
    print(f"not run: {STAGES_MISSING}")
    print(f"{'scene':<26}{'role':<10}{'det s':>6}{'fit s':>6}{'tot s':>6}{'det px':>7}{'fit px':>7}"
          f"{'PA-MPJPE':>9}{'MPJPE':>7}{'PA-PVE':>7}{'IoU':>6}{'pair PA':>8}{'pen mm':>7}{'front':>6}")
    for r in rows:
        s = r["seconds"]
        for i, p in enumerate(r["people"]):
            role = p["role"] if p["role"] == p["true_role"] else f"{p['role']}!"
            det = f"{p['detector_2d_px']:.1f}" if p["detector_2d_px"] is not None else "-"
            head = (f"{r['scene'][:25]:<26}" if i == 0 else " " * 26) + f"{role:<10}"
            times = f"{s['detect']:>6.1f}{s['fit']:>6.1f}{s['total']:>6.1f}" if i == 0 else " " * 18
            pair = ""
            if i == 0 and "pair_pa_mpjpe_mm" in r:
                front = {True: "yes", False: "NO"}.get(r.get("depth_order_right"), "-")
                pair = f"{r['pair_pa_mpjpe_mm']:>8.0f}{r['interpenetration_mm']:>7.1f}{front:>6}"
            print(f"{head}{times}{det:>7}{p['fit_2d_px']:>7.1f}{p['pa_mpjpe_mm']:>9.1f}{p['mpjpe_mm']:>7.0f}"
                  f"{p['pa_vertex_mm']:>7.1f}{p['silhouette_iou']:>6.2f}{pair}")
    print()
    for key, value in totals.items():
        print(f"  {key:<26}{'n/a (no refinement stage yet)' if value is None and key.startswith('l2') else value}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", nargs="*", type=Path, default=None, help="scene folders (default: committed set)")
    parser.add_argument("--json", type=Path, default=ROOT / "out" / "bench.json")
    args = parser.parse_args(argv)
    from bridge.body import load_body_model

    load_body_model("anny")  # the one-time cache, outside the timings
    scenes = args.scenes or _default_scenes()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        rows = []
        for scene in scenes:
            rows.append(bench_scene(scene, Path(work)))
            print(f"  {scene.name}: {rows[-1]['seconds']['total']:.1f} s", file=sys.stderr)
    totals = summary(rows)
    totals["bench_wall_s"] = round(time.perf_counter() - started, 1)
    print_table(rows, totals)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"stages_run": STAGES_RUN, "not_run": STAGES_MISSING, "summary": totals,
                                     "scenes": rows}, indent=2))
    print(f"written {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
