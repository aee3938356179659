"""Time per stage, peak memory and accuracy of `reconstruct` on scenes with ground truth.

    python build.py bench [--scenes DIR ...] [--refine N] [--json OUT.json] [--true-keypoints]
                          [--landmark full|heavy]

`--true-keypoints` gives each scene's TRUE 2D keypoints (truth.npz) to `reconstruct` as an
OpenPose file instead of running the detector: what an artist who corrected every keypoint
would give, so what is left is what 2D cannot decide (limb depth, facing, the pair's placement).
It also scores the pelvis-to-pelvis vector of a pair against the truth (mm) and the best of the
top three ranked hypotheses (fighter_<role>.npz's hypothesis_* keys). `python build.py bench`
runs both: from detections, then from true keypoints.

Each scene folder holds photo.jpg, truth.npz, truth.json and mask_<i>.png, as
tools/render_scene.py and tools/judo_scenes.py write them. The default set is the committed
one: assets/scenes/* and assets/sample. More scenes: `python tools/judo_scenes.py --out DIR
--seed S --count N`, then `python build.py bench --scenes DIR/*`.
Fitted people are matched to the true ones by their keypoints in the image, so a swapped
role still scores its body; the role column says whether the role was right. A scene with people
who are not fighters (a referee: truth.json's `fighter_indices` / `non_fighters`) is fitted for its
two fighters and scored on them only; with --true-keypoints only theirs are given.
Refinement (`--refine N`, default 60 iterations; 0 skips it) starts from the keypoint fit and
is scored the same way; its silhouette error is 1 - IoU against the TRUE mask, not counting
pixels only the other fighter covers, and its image error is the paper's L2 (% of H x W x C)
against the photo inside the fighter's mask.
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

from bridge.detection import mediapipe_pose  # noqa: E402
from bridge.geometry.camera import project  # noqa: E402
from bridge.geometry.penetration import interpenetration_m  # noqa: E402
from bridge.metrics import (keypoint_error_px, match_people, mpjpe, pa_mpjpe, silhouette_error,  # noqa: E402
                            silhouette_iou)
from bridge.refinement.refine import RefineSettings  # noqa: E402
from bridge.progress import Reporter  # noqa: E402
from bridge.geometry.raster import silhouette_mask  # noqa: E402
from bridge.jobs.reconstruct import reconstruct  # noqa: E402
from bridge.refinement.render import frontmost_body  # noqa: E402
from bridge.jobs.refine_job import refine_scene  # noqa: E402

# The pixel order is scored only where the true and the fitted overlaps share this many pixels:
# fitted bodies that overlap somewhere else entirely (tomoe-nage s104: 1 pixel in common) say
# nothing about order.
ORDER_MIN_PIXELS = 50
STAGES_RUN = "load, detect (MediaPipe + GrabCut), fit (Anny keypoint fit; joint stage for two), " \
             "refine with --refine N > 0 (Mitsuba 3 on the CPU, silhouette + keypoints + prior, from the fit)"


class _Quiet(Reporter):
    def progress(self, *args, **kwargs):
        pass


def _default_scenes() -> list[Path]:
    scenes = sorted(p for p in (ROOT / "assets" / "scenes").glob("*") if (p / "truth.npz").is_file())
    return scenes + [ROOT / "assets" / "sample"]


def fighter_indices(info: dict, count: int) -> list[int]:
    """The true people who are fighters (truth.json's fighter_indices; a referee is not one):
    only they are given as keypoints and scored."""
    return [int(i) for i in info.get("fighter_indices", range(count))]


def fighters_only(truth, keep: list[int]) -> dict:
    """The truth's per-person arrays of the fighters only, in `keep`'s order; "_index" holds
    each one's index among all the scene's people (its mask_<i>.png and labels.png value)."""
    per_person = ("keypoints2d", "keypoints3d", "vertices", "pose", "shape", "transl", "visibility")
    view = {k: (truth[k][keep] if k in per_person else truth[k]) for k in truth.files}
    view["_index"] = np.asarray(keep)
    return view


def write_true_keypoints(truth, path: Path, width: int, height: int, keep: list[int] | None = None) -> Path:
    """The scene's true 2D keypoints (of the people in `keep`, default all) as an OpenPose
    BODY_25 file: every point inside the image at confidence 1 (an artist places hidden points
    too), points outside it left out."""
    people = []
    every = truth["keypoints2d"]
    for points in (every if keep is None else every[keep]):
        inside = (points[:, 0] >= 0) & (points[:, 0] < width) & (points[:, 1] >= 0) & (points[:, 1] < height)
        triples = np.concatenate([points, inside[:, None].astype(float)], axis=1)
        triples[~inside, :2] = 0.0
        people.append({"pose_keypoints_2d": [round(float(v), 3) for v in triples.ravel()]})
    path.write_text(json.dumps({"version": 1.3, "people": people}))
    return path


_BODY = None


def _hypothesis_pa_mpjpe(fighter, true_3d, top: int = 3) -> float | None:
    """The best PA-MPJPE (mm) among the fighter's top ranked hypotheses, or None without any."""
    global _BODY
    if "hypothesis_pose" not in fighter:
        return None
    import torch
    from bridge.body import load_body_model

    _BODY = _BODY or load_body_model("anny")
    poses = torch.as_tensor(fighter["hypothesis_pose"][:top], dtype=torch.float32)
    transl = torch.as_tensor(fighter["hypothesis_transl"][:top], dtype=torch.float32)
    shape = torch.as_tensor(fighter["shape"], dtype=torch.float32).expand(len(poses), -1)
    with torch.no_grad():
        keypoints = _BODY.posed_keypoints(shape, poses, transl).numpy()
    return min(1000 * pa_mpjpe(k, true_3d) for k in keypoints)


def _person_row(fighter, role, truth, truth_roles, index, K, width, height, scene_dir) -> dict:
    """Accuracy of one fitted fighter against true person `index`."""
    true_2d, true_3d = truth["keypoints2d"][index], truth["keypoints3d"][index]
    best3 = _hypothesis_pa_mpjpe(fighter, true_3d)
    found = fighter["keypoint_confidence"] > 0
    fitted_mask = silhouette_mask(K, fighter["vertices"], fighter["faces"], width, height).astype(bool)
    true_mask = _true_mask(scene_dir, truth["_index"][index])
    others = [_true_mask(scene_dir, i) for i in _all_people(scene_dir) if i != truth["_index"][index]]
    counted = ~(others[0] & ~true_mask) if others else np.ones_like(true_mask)
    return {
        "role": role,
        "true_role": truth_roles[index],
        "detector_2d_px": round(keypoint_error_px(fighter["keypoints2d"], true_2d, found), 2) if found.any() else None,
        "fit_2d_px": round(keypoint_error_px(project(K, fighter["keypoints3d"]), true_2d), 2),
        "pa_mpjpe_mm": round(1000 * pa_mpjpe(fighter["keypoints3d"], true_3d), 1),
        "mpjpe_mm": round(1000 * mpjpe(fighter["keypoints3d"], true_3d), 1),
        "pa_vertex_mm": round(1000 * pa_mpjpe(fighter["vertices"], truth["vertices"][index]), 1),
        "silhouette_iou": round(silhouette_iou(fitted_mask, true_mask), 3),
        "silhouette_error": round(silhouette_error(fitted_mask.astype(float), true_mask, counted), 4),
        "best_of_3_pa_mpjpe_mm": None if best3 is None else round(best3, 1),
        "facing_right": _facing_right(fighter["keypoints3d"], true_3d),
    }


def _facing_right(fitted_3d, true_3d) -> bool:
    """Whether the fitted torso faces the same way as the true one (towards or away from the
    camera): the sign of the chest normal's depth (shoulders across, hips to neck up)."""
    def towards(k):
        rs, ls, neck, hip = (k[i] for i in (2, 5, 1, 8))
        normal = np.cross(ls - rs, neck - hip)
        return normal[2] < 0  # the camera looks along +z: a chest facing it points to -z
    return bool(towards(np.asarray(fitted_3d)) == towards(np.asarray(true_3d)))


def _all_people(scene_dir: Path) -> list[int]:
    return sorted(int(p.stem.split("_")[1]) for p in scene_dir.glob("mask_*.png"))


def _true_mask(scene_dir: Path, index: int) -> np.ndarray:
    return np.asarray(Image.open(scene_dir / f"mask_{index}.png")) > 127


def _score(out: Path, scene: Path, truth, truth_roles):
    result = json.loads((out / "scene.json").read_text())
    K = np.array(result["camera"]["K"])
    width, height = result["image"]["width"], result["image"]["height"]
    fighters = {role: dict(np.load(out / f"fighter_{role}.npz")) for role in result["fighters"]}
    roles = list(fighters)
    matched = match_people([project(K, fighters[r]["keypoints3d"]) for r in roles], truth["keypoints2d"])
    people = [_person_row(fighters[r], r, truth, truth_roles, i, K, width, height, scene) for r, i in zip(roles, matched)]
    return result, fighters, roles, matched, people


def bench_scene(scene: Path, work: Path, refine_iterations: int, true_keypoints: bool = False) -> dict:
    info = json.loads((scene / "truth.json").read_text())
    with np.load(scene / "truth.npz") as everyone:
        keep = fighter_indices(info, int(info.get("people", len(everyone["keypoints2d"]))))
        truth = fighters_only(everyone, keep)
    count = len(keep)
    truth_roles = info.get("roles", ["tori", "uke"][:count])
    out = work / scene.name
    options = {}
    if true_keypoints:
        options["keypoints_file"] = write_true_keypoints(truth, work / f"{scene.name}.keypoints.json",
                                                         int(info["width"]), int(info["height"]))
    started = time.perf_counter()
    report = reconstruct(scene / "photo.jpg", out, people=count, reporter=_Quiet(), **options)
    total = time.perf_counter() - started
    result, fighters, roles, matched, people = _score(out, scene, truth, truth_roles)
    K = np.array(result["camera"]["K"])
    width, height = result["image"]["width"], result["image"]["height"]
    if refine_iterations:
        refined_out = work / f"{scene.name}.refined"
        began = time.perf_counter()
        refine_scene(out, refined_out, settings=RefineSettings(iterations=refine_iterations), reporter=_Quiet())
        report.seconds["refine"] = time.perf_counter() - began
        refined = _score(refined_out, scene, truth, truth_roles)
        stats = refined[0]["refine"]
        by_role = {p["role"]: p for p in refined[4]}
        for p in people:
            after, run = by_role[p["role"]], stats.get(p["role"], {})
            p["refined"] = {key: after[key] for key in ("fit_2d_px", "pa_mpjpe_mm", "pa_vertex_mm", "silhouette_error")}
            p["refined"]["image_error_percent"] = run.get("image_error_percent")
            p["refined"]["iterations_per_second"] = run.get("iterations_per_second")
    row = {
        "scene": scene.name,
        "people_true": count,
        "scored_people": keep,  # the true fighters (a referee is left out)
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
        pelvis = 8  # mid_hip
        fitted_vector = fighters[roles[1]]["keypoints3d"][pelvis] - fighters[roles[0]]["keypoints3d"][pelvis]
        true_vector = truth["keypoints3d"][matched[1]][pelvis] - truth["keypoints3d"][matched[0]][pelvis]
        row["pelvis_vector_mm"] = round(1000 * float(np.linalg.norm(fitted_vector - true_vector)), 1)
        row["interpenetration_mm"] = round(1000 * interpenetration_m(
            fighters[roles[0]]["vertices"].astype(float), fighters[roles[1]]["vertices"].astype(float),
            fighters[roles[0]]["faces"]), 1)
        true_front = info.get("front")
        if true_front is not None:
            fitted_front_person = matched[roles.index(result["front"])]
            row["depth_order_right"] = truth_roles[fitted_front_person] == true_front
        # The bodies themselves, pixel by pixel: where both the true and the fitted bodies
        # overlap, is the fitted body the camera sees the one the photo shows (labels.png)?
        both = _true_mask(scene, keep[0]) & _true_mask(scene, keep[1])
        seen = frontmost_body(K, [fighters[r]["vertices"] for r in roles], fighters[roles[0]]["faces"], width, height)
        fitted_both = np.logical_and.reduce([silhouette_mask(K, fighters[r]["vertices"], fighters[r]["faces"], width,
                                                             height).astype(bool) for r in roles])
        region = both & fitted_both
        if region.sum() >= ORDER_MIN_PIXELS:
            # labels.png counts every person from 1; a non-fighter in front counts as wrong (-2).
            seen_all = np.asarray(Image.open(scene / "labels.png")).astype(int) - 1
            true_seen = np.full_like(seen_all, -2)
            for view, index in enumerate(keep):
                true_seen[seen_all == index] = view
            seen_person = np.asarray(matched)[seen[region]]
            row["order_pixels"] = int(region.sum())
            row["order_right"] = round(float((seen_person == true_seen[region]).mean()), 3)
    return row


def _mean(values):
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else float("nan")


def summary(rows: list[dict]) -> dict:
    people = [p for r in rows for p in r["people"]]
    alone = [p for r in rows if r["people_true"] == 1 for p in r["people"]]
    pairs = [r for r in rows if "pair_pa_mpjpe_mm" in r]
    ordered = [r["depth_order_right"] for r in pairs if "depth_order_right" in r]
    order = [r["order_right"] for r in pairs if "order_right" in r]
    totals = {
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
        "pelvis_vector_mm": round(_mean([r["pelvis_vector_mm"] for r in pairs]), 1),
        "pelvis_vector_max_mm": max((r["pelvis_vector_mm"] for r in pairs), default=None),
        "best_of_3_pa_mpjpe_mm": round(_mean([p["best_of_3_pa_mpjpe_mm"] for p in people]), 1),
        "facing_right_one_fighter": f"{sum(p['facing_right'] for p in alone)}/{len(alone)}",
        "facing_right": f"{sum(p['facing_right'] for p in people)}/{len(people)}",
        "max_interpenetration_mm": max((r["interpenetration_mm"] for r in pairs), default=None),
        "depth_order_right": f"{sum(ordered)}/{len(ordered)}",
        "order_right_mean": round(_mean(order), 3),
        "order_right_min": min(order, default=None),
    }
    refined = [p for p in people if "refined" in p]
    if refined:
        before = _mean([p["silhouette_error"] for p in refined])
        after = _mean([p["refined"]["silhouette_error"] for p in refined])
        image = [p["refined"]["image_error_percent"] for p in refined if p["refined"]["image_error_percent"]]
        totals["refine"] = {
            "silhouette_error": [round(before, 4), round(after, 4)],
            "silhouette_error_change_percent": round(100 * _mean(
                [(p["refined"]["silhouette_error"] - p["silhouette_error"]) / p["silhouette_error"] for p in refined]), 1),
            "l2_image_error_percent": [round(_mean([i[0] for i in image]), 4), round(_mean([i[1] for i in image]), 4)],
            "pa_mpjpe_mm": [round(_mean([p["pa_mpjpe_mm"] for p in refined]), 1),
                            round(_mean([p["refined"]["pa_mpjpe_mm"] for p in refined]), 1)],
            "fit_2d_px": [round(_mean([p["fit_2d_px"] for p in refined]), 2),
                          round(_mean([p["refined"]["fit_2d_px"] for p in refined]), 2)],
            "iterations_per_second": round(_mean([p["refined"]["iterations_per_second"] for p in refined]), 2),
        }
    return totals


def print_table(rows: list[dict], totals: dict) -> None:
    print(f"stages run: {STAGES_RUN}")
    print(f"{'scene':<26}{'role':<10}{'det s':>6}{'fit s':>6}{'tot s':>6}{'det px':>7}{'fit px':>7}"
          f"{'PA-MPJPE':>9}{'best3':>6}{'MPJPE':>7}{'PA-PVE':>7}{'IoU':>6}{'pair PA':>8}{'pelv mm':>8}{'pen mm':>7}"
          f"{'front':>6}{'order':>6}")
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
                order = f"{r['order_right']:.2f}" if "order_right" in r else "-"
                pair = (f"{r['pair_pa_mpjpe_mm']:>8.0f}{r['pelvis_vector_mm']:>8.0f}{r['interpenetration_mm']:>7.1f}"
                        f"{front:>6}{order:>6}")
            best3 = f"{p['best_of_3_pa_mpjpe_mm']:.0f}" if p.get("best_of_3_pa_mpjpe_mm") is not None else "-"
            facing = "" if p.get("facing_right", True) else "~"
            print(f"{head}{times}{det:>7}{p['fit_2d_px']:>7.1f}{p['pa_mpjpe_mm']:>8.1f}{facing:1}{best3:>6}"
                  f"{p['mpjpe_mm']:>7.0f}"
                  f"{p['pa_vertex_mm']:>7.1f}{p['silhouette_iou']:>6.2f}{pair}")
    refined = [(r, p) for r in rows for p in r["people"] if "refined" in p]
    if refined:
        print("\nrefinement, from the keypoint fit (before -> after):")
        print(f"{'scene':<26}{'role':<10}{'sil err':>16}{'L2 img %':>16}{'PA-MPJPE':>16}{'fit px':>14}{'it/s':>6}")
        for r, p in refined:
            q = p["refined"]
            image = q["image_error_percent"] or [float("nan")] * 2
            print(f"{r['scene'][:25]:<26}{p['role']:<10}{p['silhouette_error']:>7.3f} -> {q['silhouette_error']:.3f}"
                  f"{image[0]:>7.3f} -> {image[1]:.3f}{p['pa_mpjpe_mm']:>7.1f} -> {q['pa_mpjpe_mm']:<6.1f}"
                  f"{p['fit_2d_px']:>5.1f} -> {q['fit_2d_px']:<5.1f}{q['iterations_per_second']:>6.1f}")
    print()
    for key, value in totals.items():
        print(f"  {key:<26}{value}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", nargs="*", type=Path, default=None, help="scene folders (default: committed set)")
    parser.add_argument("--refine", type=int, default=60, help="refinement iterations per fighter (0: none)")
    parser.add_argument("--json", type=Path, default=None, help="default out/bench.json (out/bench_true.json)")
    parser.add_argument("--true-keypoints", action="store_true",
                        help="give the scenes' true 2D keypoints as an OpenPose file instead of detecting")
    parser.add_argument("--landmark", choices=sorted(mediapipe_pose.COMPLEXITY), default=mediapipe_pose.LANDMARK_MODEL,
                        help="the detector's landmark model (default: the product's)")
    args = parser.parse_args(argv)
    mediapipe_pose.LANDMARK_MODEL = args.landmark
    print(f"landmark model {args.landmark}", file=sys.stderr)
    args.json = args.json or ROOT / "out" / ("bench_true.json" if args.true_keypoints else "bench.json")
    from bridge.body import load_body_model

    load_body_model("anny")  # the one-time cache, outside the timings
    scenes = args.scenes or _default_scenes()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        rows = []
        for scene in scenes:
            rows.append(bench_scene(scene, Path(work), args.refine, args.true_keypoints))
            print(f"  {scene.name}: {rows[-1]['seconds']['total']:.1f} s", file=sys.stderr)
    totals = summary(rows)
    totals["bench_wall_s"] = round(time.perf_counter() - started, 1)
    print("from TRUE 2D keypoints (an OpenPose file)" if args.true_keypoints else "from detections")
    print_table(rows, totals)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"stages_run": STAGES_RUN, "true_keypoints": args.true_keypoints,
                                     "summary": totals,
                                     "scenes": rows}, indent=2))
    print(f"written {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
