#!/usr/bin/env python3
"""A harder, varied benchmark set, generated on demand (not committed): two-fighter scenes
across photo sizes, clothing, builds, clutter, a referee, camera height and roll, tangled and
upside-down throws, plus one-fighter scenes (some seen from behind, kicking or stepping).

    python tools/scene_sets.py --out DIR [--count 48] [--split tune|holdout|all|fresh|blind] [--dry-run]

Every scene is a fixed seed plus explicit options for tools/judo_scenes.py (scene_parameters'
OPTIONS, or solo_parameters for a lone fighter), so the set and its split are reproducible.
The split is by pose: the variants of one posed pair (same throw, seed and build, another
size, clothing, camera and background) all go to the same split, and each split covers every
category (tests/test_scene_sets.py checks). Scenes go to DIR/<name>/ (photo.jpg, masks,
labels.png, truth.npz, truth.json with "categories" and "split"); the posed pairs are
committed in benchmarks/scene_poses (DIR/_poses keeps any others); DIR/manifest.json lists the
scenes, categories and splits. A scene whose truth.json is complete is skipped, so a stopped
run resumes where it stopped.

`--split fresh` renders a third split, never part of the 48 (its own posed pairs, seeds and
looks): scenes for checking a change that was tuned on `tune` after `holdout` has been looked at.
`--split blind` renders a fourth (2026-12-07), for judging a change once after `fresh` was looked
at too: its figures are only ever reported, never tuned on. `--split audit` a fifth (2026-12-07,
third session): posed and rendered on the Intel Xeon after every other split had been looked at,
for judging this session's change once.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "tools") not in sys.path:
    sys.path.insert(0, str(ROOT / "tools"))

import judo_scenes as js  # noqa: E402

SPLITS = ("tune", "holdout")
# Posed pairs per split, in order: (throw, phase), its build (judo_scenes.BUILDS) and how many
# looks (variants) it is rendered in. Posing a pair costs minutes of CPU (the grip solver), so
# few pairs in many looks: three per split, tangled throws only, one of each build.
PAIR_POSES = {
    "tune": [("seoi-nage", "throw", "light", 7), ("harai-goshi", "throw", "mismatch", 7),
             ("tomoe-nage", "throw", "heavy", 6)],
    "holdout": [("tomoe-nage", "throw", "mismatch", 7), ("uchi-mata", "throw", "light", 7),
                ("harai-goshi", "throw", "heavy", 6)],
}
FRESH = "fresh"
PAIR_POSES[FRESH] = [("seoi-nage", "throw", "light", 5), ("seoi-nage", "throw", "typical", 5),
                     ("tomoe-nage", "throw", "light", 4), ("uchi-mata", "throw", "light", 4),
                     ("harai-goshi", "throw", "typical", 4)]
# (uchi-mata at seed 1000 could not be posed: 45.6 mm through each other with two heavy fighters,
# 11.3 mm with two typical ones; harai-goshi with two light ones neither. Uchi-mata at seed 1003
# does not pose either, nor harai-goshi at seed 1004, in 4 attempts (58.9 and 16.1 mm): their eight
# scenes fail at once on the committed .failed markers and the manifest marks them.)
# (seoi-nage with two heavy fighters, seed 702, could not be posed within 5 mm in two attempts:
# 11 mm after 9 minutes, so the heavy pairs are harai-goshi and tomoe-nage.)
BLIND = "blind"
PAIR_POSES[BLIND] = [("harai-goshi", "throw", "typical", 4), ("tomoe-nage", "throw", "mismatch", 4),
                     ("seoi-nage", "throw", "typical", 4), ("uchi-mata", "throw", "light", 4)]
AUDIT = "audit"
PAIR_POSES[AUDIT] = [("seoi-nage", "throw", "mismatch", 4), ("uchi-mata", "throw", "typical", 4),
                     ("tomoe-nage", "throw", "heavy", 4), ("harai-goshi", "throw", "mismatch", 4)]
EXTRA_SPLITS = (FRESH, BLIND, AUDIT)  # outside the 48
EXTRA_OFFSET = {FRESH: 14, BLIND: 3, AUDIT: 10}
POSE_ATTEMPTS = 2  # judo_scenes.pose_fighters' attempts for a pair not in benchmarks/scene_poses
# (the committed ones were posed with 4: seoi-nage s600 and uchi-mata s701 need more than 2)
# The looks, cycled over a split's pair scenes (offset per split so that looks and poses meet
# differently): photo long side, gi scheme, camera height, camera roll.
SIZES = (512, 1024, 1600, 768, 1280, 4000, 640, 1024, 512, 2048, 896, 1024, 768, 768, 1280, 512, 1024, 1600,
         640, 1024)
GI_ORDER = ("blue_white", "both_white", "none", "white_blue", "both_blue")
CAMERA_ORDER = ("normal", "low", "normal", "high", "normal", "high", "low")
ROLL_ORDER = (0.0, 0.0, 30.0, 0.0, -40.0, 0.0, 15.0, 0.0, -25.0)
SOLO_POSES = ("stance", "step", "kick", "sweep")
SOLO_VIEWS = {"tune": ("behind", "front", "side", "behind"), "holdout": ("front", "behind", "behind", "side"),
              FRESH: ("side", "behind", "front", "behind"), BLIND: ("front", "behind", "side", "behind"),
              AUDIT: ("behind", "side", "front", "behind")}
SOLO_SIZES = {"tune": (512, 1024, 2048, 768), "holdout": (768, 2048, 1024, 512), FRESH: (1024, 640, 1600, 896),
              BLIND: (896, 1280, 640, 3000), AUDIT: (640, 1600, 1024, 2048)}
SOLO_GI = ("white", "blue", "none", "white")
SOLO_CAMERA = ("normal", "normal", "low", "high")
SEED_BASE = {"tune": 600, "holdout": 700, FRESH: 1000, BLIND: 1200, AUDIT: 1400}
SOLO_SEED_BASE = {"tune": 800, "holdout": 900, FRESH: 1100, BLIND: 1300, AUDIT: 1500}
SIZE_SMALL, SIZE_LARGE = 800, 2000  # size_small: long side <= 800; size_large: > 2000


def size_category(long_side: int) -> str:
    return "size_small" if long_side <= SIZE_SMALL else "size_large" if long_side > SIZE_LARGE else "size_medium"


def samples_for(long_side: int) -> tuple[int, int]:
    """Cycles samples for the photo (OpenImageDenoise cleans it) and for each mask pass: only
    the detector's accuracy matters, so few, fewer on big photos where a sample costs most.
    Measured on 2 cores shared with other work: about 20 s per megapixel-sample for a photo,
    a tenth of that for a mask pass."""
    if long_side <= 1280:
        return 4, 4
    return 2, 2


def pair_categories(throw: str, phase: str, options: dict) -> list[str]:
    """The categories of a two-fighter scene, from its throw and options alone."""
    categories = ["two_fighters", size_category(options["long_side"])]
    gi = options["gi"]
    categories.append("no_gi" if gi == "none" else f"gi_{gi}")
    categories.append(f"build_{options['build']}")
    if options.get("clutter"):
        categories.append("clutter")
    if options.get("referee"):
        categories.append("referee")
    categories.append(f"camera_{options['camera']}")
    if abs(options.get("roll", 0.0)) >= 10.0:
        categories.append("camera_roll")
    orientation = js.uke_orientation(throw, phase)
    if orientation != "upright":
        categories.append(f"uke_{orientation}")
    if phase == "throw" and throw in ("seoi-nage", "uchi-mata", "harai-goshi", "tomoe-nage"):
        categories.append("tangled")  # uke across tori's back or over tori
    return categories


def solo_categories(pose: str, view: str, options: dict) -> list[str]:
    categories = ["one_fighter", size_category(options["long_side"]), f"seen_from_{view}",
                  "solo_kick" if pose in ("kick", "sweep") else f"solo_{pose}"]
    categories.append("no_gi" if options["gi"] == "none" else f"solo_gi_{options['gi']}")
    if options.get("clutter"):
        categories.append("clutter")
    categories.append(f"camera_{options['camera']}")
    return categories


def _pair_scenes(split: str, offset: int) -> list[list[dict]]:
    """The split's pair scenes, one list per posed pair."""
    groups, i = [], offset
    for group, (throw, phase, build, variants) in enumerate(PAIR_POSES[split]):
        seed = SEED_BASE[split] + group
        scenes = []
        for variant in range(variants):
            options = {"long_side": SIZES[i % len(SIZES)], "gi": GI_ORDER[i % len(GI_ORDER)], "build": build,
                       "clutter": i % 2 == 1, "referee": i % 3 == 0, "camera": CAMERA_ORDER[i % len(CAMERA_ORDER)],
                       "roll": ROLL_ORDER[i % len(ROLL_ORDER)], "variant": variant}
            scenes.append({"name": f"{split[0]}{group}{variant}_{throw}_{phase}_s{seed}_v{variant}", "split": split,
                           "kind": "pair", "seed": seed, "throw": throw, "phase": phase, "options": options,
                           "group": f"{split}_pair_{group}",
                           "categories": pair_categories(throw, phase, options)})
            i += 1
        groups.append(scenes)
    return groups


def _solo_scenes(split: str) -> list[dict]:
    scenes = []
    for j, pose in enumerate(SOLO_POSES):
        seed, view = SOLO_SEED_BASE[split] + j, SOLO_VIEWS[split][j]
        options = {"long_side": SOLO_SIZES[split][j], "gi": SOLO_GI[j], "clutter": j % 2 == 1,
                   "camera": SOLO_CAMERA[j], "variant": 0}
        scenes.append({"name": f"{split[0]}s{j}_solo_{pose}_{view}_s{seed}", "split": split, "kind": "solo",
                       "seed": seed, "pose": pose, "view": view, "options": options,
                       "group": f"{split}_solo_{j}", "categories": solo_categories(pose, view, options)})
    return scenes


def plan(count: int = 48) -> list[dict]:
    """The set's scenes, holdout first: per split its pairs (the variants of each posed pair)
    with a lone fighter after each posed pair, the other lone fighters last, then the big photos
    moved to the end; --count N keeps the first N // 2 of each split (the holdout one more when
    N is odd)."""
    if count < 2:
        raise ValueError("count: at least 2, one scene per split")
    chosen = []
    for index, split in enumerate(("holdout", "tune")):
        groups, solos = _pair_scenes(split, offset=7 * index), _solo_scenes(split)
        ordered = []
        for group, pairs in enumerate(groups):
            ordered += pairs + solos[group:group + 1]
        ordered += solos[len(groups):]
        # The big photos last in the split, so that a run short of time has the rest first.
        ordered.sort(key=lambda scene: scene["options"]["long_side"] > SIZE_LARGE)
        wanted = count // 2 + (count % 2 if split == "holdout" else 0)
        if wanted > len(ordered):
            raise ValueError(f"count {count}: at most {2 * len(ordered)} scenes")
        chosen += ordered[:wanted]
    return chosen


def fresh_plan(split: str = FRESH) -> list[dict]:
    """A split outside the 48 (fresh or blind): its posed pairs' variants (looks offset from the
    others') and its lone fighters, the big photos last."""
    groups, solos = _pair_scenes(split, offset=EXTRA_OFFSET[split]), _solo_scenes(split)
    ordered = [scene for pairs in groups for scene in pairs] + solos
    return sorted(ordered, key=lambda scene: scene["options"]["long_side"] > SIZE_LARGE)


def category_counts(scenes: list[dict]) -> dict:
    counts = {}
    splits = SPLITS + tuple(extra for extra in EXTRA_SPLITS if any(s["split"] == extra for s in scenes))
    for scene in scenes:
        for category in scene["categories"]:
            counts.setdefault(category, {split: 0 for split in splits})[scene["split"]] += 1
    return dict(sorted(counts.items()))


def _done(folder: Path) -> bool:
    """A scene is complete once judo_scenes has written its final truth.json (with timings)."""
    try:
        return "timing_seconds" in json.loads((folder / "truth.json").read_text()) and (folder / "photo.jpg").is_file()
    except (OSError, ValueError):
        return False


def write_manifest(out: Path, scenes: list[dict]) -> dict:
    rows = []
    for scene in scenes:
        folder = out / scene["name"]
        row = {key: scene[key] for key in ("name", "split", "kind", "seed", "categories", "options", "group")}
        row.update({key: scene[key] for key in ("throw", "phase", "pose", "view") if key in scene})
        row["rendered"] = _done(folder)
        if row["rendered"]:
            info = json.loads((folder / "truth.json").read_text())
            row.update(width=info["width"], height=info["height"], seconds=info["timing_seconds"]["total"],
                       people=info["people"], fighters=info.get("fighters", info["people"]))
        rows.append(row)
    manifest = {
        "generator": "tools/scene_sets.py", "count": len(scenes),
        "splits": {split: sum(s["split"] == split for s in scenes) for split in (*SPLITS, *EXTRA_SPLITS)
                   if split in SPLITS or any(s["split"] == split for s in scenes)},
        "categories": category_counts(scenes),
        "scenes": rows,
        "notes": "person 0 tori, 1 uke (or 0 the lone fighter); a referee, where present, is person 2: "
                 "truth.json 'fighters' counts the fighters (the first indices), 'people' every rendered "
                 "body, 'non_fighters' lists the rest",
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def render(scene: dict, out: Path, body) -> Path:
    samples, mask_samples = samples_for(scene["options"]["long_side"])
    extra = {"categories": scene["categories"], "split": scene["split"], "scene_set": "tools/scene_sets.py",
             "group": scene["group"]}
    if scene["kind"] == "pair":
        return js.generate(body, scene["seed"], out, scene["throw"], scene["phase"], samples=samples,
                           options=scene["options"], name=scene["name"], pose_cache=out / "_poses",
                           mask_samples=mask_samples, extra=extra, attempts=POSE_ATTEMPTS)
    return js.generate_solo(body, scene["seed"], out, scene["pose"], scene["view"], options=scene["options"],
                            samples=samples, mask_samples=mask_samples, name=scene["name"], extra=extra)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="output folder (one sub-folder per scene)")
    parser.add_argument("--count", type=int, default=48, help="scenes in the set, half per split (at most 48)")
    parser.add_argument("--split", choices=(*SPLITS, "all", *EXTRA_SPLITS), default="all",
                        help="which split to render (fresh, blind: the third and fourth, outside the 48)")
    parser.add_argument("--dry-run", action="store_true", help="write the manifest only")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    scenes = fresh_plan(args.split) if args.split in EXTRA_SPLITS else plan(args.count)
    manifest = write_manifest(out, scenes)
    todo = [s for s in scenes if args.split in ("all", s["split"])]
    print(f"{len(scenes)} scenes ({manifest['splits']}), rendering {len(todo)} of split {args.split} into {out}",
          flush=True)
    if args.dry_run:
        return 0
    body = None
    failed = 0
    for number, scene in enumerate(todo, start=1):
        folder = out / scene["name"]
        prefix = f"[{number}/{len(todo)}] {scene['name']} ({scene['split']})"
        if _done(folder):
            print(f"{prefix}: already rendered, skipped", flush=True)
            continue
        if body is None:
            from bridge.body.anny_body import AnnyBody

            body = AnnyBody.shared()
        started = time.perf_counter()
        try:
            render(scene, out, body)
        except Exception as error:  # noqa: BLE001 - a pose that cannot be made to fit, a camera that cannot
            failed += 1             # frame it, a bug: say so and go on with the next scene
            import traceback

            traceback.print_exc()
            print(f"{prefix}: FAILED after {time.perf_counter() - started:.0f} s: {error}", flush=True)
            continue
        info = json.loads((folder / "truth.json").read_text())
        print(f"{prefix}: {info['width']}x{info['height']}, {info['render']['samples']} samples, "
              f"{time.perf_counter() - started:.0f} s, {' '.join(scene['categories'])}", flush=True)
        write_manifest(out, scenes)
    write_manifest(out, scenes)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
