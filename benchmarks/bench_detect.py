"""How well the detection stage finds the fighters, per scene category and overall (issue 18).

    .venv/bin/python benchmarks/bench_detect.py [--scenes DIR ...] [--set DIR --split tune|holdout|all]
                                                [--json OUT.json] [--overlays DIR]
                                                [--landmark full|heavy] [--placing heavy|full|none]

Runs only `find_fighters` (detection, isolation, roles; no fit) on scenes with ground truth, as
tools/judo_scenes.py and tools/scene_sets.py write them, and scores each true fighter (people
marked as non-fighters, the referee, are not fighters to find):
- found: a detection was matched to it (Hungarian on mean keypoint distance); each detection
  counts once, so a fighter detected twice leaves another one unfound;
- 2D error: mean pixel distance over the detection's confident keypoints that the truth has
  inside the photo, in 512-px units (divided by the photo's longer side / 512), so photos of
  every size compare;
- blend: a detection with at least a third of its confident keypoints clearly (a tenth of the
  body's size) nearer the other fighter's true keypoints than its own;
- role: the written role is the fighter's true role.
With `--set`, the scenes and their categories come from the set's manifest.json; tune on the
`tune` split, report on `holdout`. `--overlays DIR` draws each scene with a failure (a fighter
missed, a blend, more than FAR_PX off) at 512 px: the truth thin (tori green, uke cyan), the
detections thick (the one written tori red, uke magenta).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge.detection import mediapipe_pose  # noqa: E402
from bridge.detection.sources import mediapipe_crops  # noqa: E402
from bridge.detection.fighters import find_fighters  # noqa: E402
from bridge.errors import BridgeError  # noqa: E402
from bridge.imaging.photo import load_photo  # noqa: E402
from bridge.keypoints import CONFIDENT  # noqa: E402
from bridge.progress import Reporter  # noqa: E402

UNIT_SIDE = 512.0
FAR_PX = 50.0  # a fighter this far off (512-px units) is a failure the issue counts
BLEND_MARGIN = 0.1  # of the body's size: a keypoint this much nearer the other fighter's is on the other


class _Quiet(Reporter):
    def progress(self, *args, **kwargs):
        pass


def _scenes(args) -> list[tuple[Path, list[str]]]:
    if args.set:
        manifest = json.loads((Path(args.set) / "manifest.json").read_text())
        return [(Path(args.set) / s["name"], s["categories"]) for s in manifest["scenes"]
                if s.get("rendered", True) and (args.split == "all" or s["split"] == args.split)
                and (Path(args.set) / s["name"] / "truth.npz").is_file()]
    folders = args.scenes or sorted(p for p in (ROOT / "assets" / "scenes").glob("*") if (p / "truth.npz").is_file())
    return [(Path(f), ["committed"]) for f in folders]


def _fighters_of(info: dict, truth) -> tuple[list[int], list[str]]:
    """The true fighters' indices into truth arrays, and their roles."""
    count = len(truth["keypoints2d"])
    indices = info.get("fighter_indices", list(range(min(count, 2))))
    roles = info.get("person_roles") or info.get("roles") or ["tori", "uke"]
    return list(indices), [roles[i] for i in indices]


def _error(points, confidence, true_points, width, height) -> float:
    inside = (true_points[:, 0] >= 0) & (true_points[:, 0] < width) & (true_points[:, 1] >= 0) & \
             (true_points[:, 1] < height)
    used = (confidence >= CONFIDENT) & inside
    if not used.any():
        return float("inf")
    return float(np.linalg.norm(points[used] - true_points[used], axis=1).mean())


TRUE_COLOURS = {"tori": (0, 200, 0), "uke": (0, 220, 255)}  # RGB
FOUND_COLOURS = {"tori": (255, 40, 40), "uke": (255, 0, 255)}


def draw_failure(photo, fighters, true_points, roles, path: Path) -> None:
    """The photo at 512 px with the true and the detected skeletons (see the module's doc)."""
    import cv2

    from bridge.keypoints import LIMBS

    scale = UNIT_SIDE / max(photo.width, photo.height)
    size = (round(photo.width * scale), round(photo.height * scale))
    image = cv2.resize(photo.rgb, size, interpolation=cv2.INTER_AREA)
    image = (image * 0.8).astype(np.uint8)
    skeletons = [(p * scale, np.ones(len(p)), TRUE_COLOURS[r], 1) for p, r in zip(true_points, roles)]
    skeletons += [(f.target.points * scale, f.target.confidence, FOUND_COLOURS.get(f.role, (255, 255, 255)), 3)
                  for f in fighters]
    for points, confidence, colour, width in skeletons:
        for a, b in LIMBS:
            if confidence[a] >= CONFIDENT and confidence[b] >= CONFIDENT:
                cv2.line(image, tuple(np.round(points[a]).astype(int)), tuple(np.round(points[b]).astype(int)),
                         colour, width, cv2.LINE_AA)
    for f in fighters:
        neck = f.target.points[1] * scale
        cv2.putText(image, f.role, tuple(np.round(neck).astype(int)), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    FOUND_COLOURS.get(f.role, (255, 255, 255)), 1, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


def score_scene(folder: Path, overlays: Path | None = None) -> dict:
    from scipy.optimize import linear_sum_assignment

    info = json.loads((folder / "truth.json").read_text())
    truth = dict(np.load(folder / "truth.npz"))
    indices, roles = _fighters_of(info, truth)
    photo = load_photo(folder / "photo.jpg")
    unit = UNIT_SIDE / max(photo.width, photo.height)
    began = time.perf_counter()
    try:
        fighters, warnings = find_fighters(photo, len(indices), reporter=_Quiet())
        failure = None
    except BridgeError as err:
        fighters, warnings, failure = [], [], err.code
    seconds = time.perf_counter() - began
    true_points = [truth["keypoints2d"][i] for i in indices]
    cost = np.array([[_error(f.target.points, f.target.confidence, t, photo.width, photo.height) for t in true_points]
                     for f in fighters]) if fighters else np.zeros((0, len(indices)))
    rows, cols = linear_sum_assignment(np.where(np.isfinite(cost), cost, 1e9)) if fighters else ([], [])
    people = []
    for t, role in enumerate(roles):
        matched = [r for r, c in zip(rows, cols) if c == t and np.isfinite(cost[r, c])]
        row = {"true_role": role, "found": bool(matched)}
        if matched:
            f = fighters[matched[0]]
            confident = f.target.confidence >= CONFIDENT
            own = np.linalg.norm(f.target.points - true_points[t], axis=1)
            others = [np.linalg.norm(f.target.points - true_points[o], axis=1) for o in range(len(roles)) if o != t]
            size = float(np.linalg.norm(np.ptp(true_points[t], axis=0)))
            clearly = (others[0] < own - BLEND_MARGIN * size) if others else np.zeros_like(own, bool)
            nearer_other = clearly[confident].mean() if confident.any() else 0.0
            row.update(error_px=round(cost[matched[0], t] * unit, 2),
                       median_px=round(float(np.median(own[confident])) * unit, 2),
                       blend=bool(nearer_other >= 1 / 3), role_right=f.role == role)
        people.append(row)
    failed = any(not p["found"] or p["blend"] or p["error_px"] > FAR_PX for p in people)
    if overlays is not None and failed:
        draw_failure(photo, fighters, true_points, roles, overlays / f"{folder.name}.png")
    return {"scene": folder.name, "seconds": round(seconds, 2), "size": [photo.width, photo.height],
            "detections": len(fighters), "failure": failure, "people": people, "warnings": warnings}


def summarise(rows: list[dict]) -> dict:
    people = [p for r in rows for p in r["people"]]
    found = [p for p in people if p["found"]]
    errors = np.array([p["error_px"] for p in found]) if found else np.array([np.nan])
    both = sum(all(p["found"] for p in r["people"]) and not any(p.get("blend") for p in r["people"]) for r in rows)
    return {
        "scenes": len(rows),
        "all_fighters_found_once": f"{both}/{len(rows)}",
        "fighters_found": f"{len(found)}/{len(people)}",
        "mean_px": round(float(np.mean(errors)), 2),
        "median_px": round(float(np.median(errors)), 2),
        "over_50px": f"{int((errors > FAR_PX).sum()) + len(people) - len(found)}/{len(people)}",
        "blends": sum(bool(p.get("blend")) for p in found),
        "roles_right": f"{sum(bool(p.get('role_right')) for p in found)}/{len(people)}",
        "mean_s": round(float(np.mean([r["seconds"] for r in rows])), 2),
        "max_s": round(float(np.max([r["seconds"] for r in rows])), 2),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", nargs="*", help="scene folders (default: assets/scenes/*)")
    parser.add_argument("--set", help="a generated scene set (tools/scene_sets.py) with manifest.json")
    parser.add_argument("--split", default="tune", choices=("tune", "holdout", "all"))
    parser.add_argument("--json", help="write the rows and summaries here")
    parser.add_argument("--overlays", help="draw each scene with a failure into this folder")
    parser.add_argument("--landmark", choices=sorted(mediapipe_pose.COMPLEXITY), default=mediapipe_pose.LANDMARK_MODEL,
                        help="the BlazePose landmark model the detector runs (default: the product's)")
    parser.add_argument("--placing", choices=(*sorted(mediapipe_pose.COMPLEXITY), "none"),
                        default=mediapipe_crops.PLACING_MODEL or "none",
                        help="the crop vote's placing model (none: the landmark model's views alone)")
    args = parser.parse_args(argv)
    mediapipe_pose.LANDMARK_MODEL = args.landmark
    mediapipe_crops.PLACING_MODEL = None if args.placing == "none" else args.placing
    print(f"landmark model: {mediapipe_pose.landmark_model_in_use()}, placing model: "
          f"{mediapipe_crops.placing_model() or 'none'}", flush=True)
    scenes = _scenes(args)
    rows, by_category = [], defaultdict(list)
    for folder, categories in scenes:
        row = score_scene(folder, Path(args.overlays) if args.overlays else None)
        row["categories"] = categories
        rows.append(row)
        by_category["all"].append(row)
        for category in categories:
            by_category[category].append(row)
        cells = "  ".join(("-" if not p["found"] else f"{p['error_px']:6.1f}px{' BLEND' if p['blend'] else ''}"
                           f"{'' if p['role_right'] else ' ROLE'}") for p in row["people"])
        print(f"  {folder.name:42s} {row['seconds']:6.1f} s  {cells}  {row['failure'] or ''}", flush=True)
    summaries = {name: summarise(group) for name, group in sorted(by_category.items())}
    keys = list(summaries["all"])
    print(f"\n{'category':22s}" + "".join(f"{k:>24s}" for k in keys))
    for name, summary in summaries.items():
        print(f"{name:22s}" + "".join(f"{str(summary[k]):>24s}" for k in keys))
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "summaries": summaries}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
