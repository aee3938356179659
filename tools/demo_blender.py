"""The add-on's own operators in headless Blender on a committed two-fighter judo scene
(`python build.py demo`).

    .venv/bin/python tools/demo_blender.py EXTENSION_ZIP [--out out/demo] [--photo PHOTO --people N]

Installs the extension zip into a private Blender user folder (out/demo/blender_user, so a real
Blender configuration is never touched), imports the photo (uchi-mata, assets/scenes/), detects
and fits both fighters, resolves their contact, and saves golden_score.blend, golden_score.glb,
statue.stl (both fighters on one base) and render.png (the posed fighters over the photo, Cycles
on the CPU). The console shows the stages and one progress line; Cycles' per-tile log is kept
out of it.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_PHOTO = ROOT / "assets" / "sample" / "photo.jpg"
PAIR_PHOTO = ROOT / "assets" / "scenes" / "uchi-mata_throw_s34" / "photo.jpg"


@contextlib.contextmanager
def native_output_silenced():
    """Blender's C code (Cycles' "Fra:1 Mem:..." lines) writes straight to file descriptor 1:
    point it at /dev/null for the block; Python's own prints go to the saved descriptor."""
    sys.stdout.flush()
    saved = os.dup(1)
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)
    os.close(quiet)
    try:
        with os.fdopen(os.dup(saved), "w", buffering=1) as console:
            previous, sys.stdout = sys.stdout, console
            try:
                yield
            finally:
                sys.stdout = previous
    finally:
        os.dup2(saved, 1)
        os.close(saved)


@contextlib.contextmanager
def progress_line(operator_base, started: float):
    """One line, redrawn each second, with the running bridge job's stage and share."""
    done = threading.Event()

    def draw():
        while not done.wait(1.0):
            job = operator_base.running_job()
            if job is not None:
                sys.stderr.write(f"\r[demo] {job.progress.text():<60} {time.perf_counter() - started:4.0f} s")
                sys.stderr.flush()

    thread = threading.Thread(target=draw, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        sys.stderr.write("\r" + " " * 80 + "\r")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("extension_zip", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "demo")
    parser.add_argument("--samples", type=int, default=16, help="Cycles samples for render.png")
    parser.add_argument("--photo", type=Path, default=PAIR_PHOTO, help="the photo (default: uchi-mata, two fighters)")
    parser.add_argument("--people", type=int, default=2, choices=(1, 2), help="fighters in the photo")
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ["BLENDER_USER_RESOURCES"] = str(out / "blender_user")
    import bpy  # after the user folder is chosen

    started = time.perf_counter()
    bpy.ops.extensions.package_install_files(filepath=str(args.extension_zip.resolve()), repo="user_default",
                                             enable_on_install=True)
    bpy.ops.wm.read_homefile(use_empty=True)
    import importlib

    operator_base = importlib.import_module("bl_ext.user_default.golden_score.operator_base")
    ops = bpy.ops.golden_score
    ops.import_photo(filepath=str(args.photo))
    scene = bpy.context.scene
    scene.golden_score.people = args.people
    print(f"[demo] {args.photo.relative_to(ROOT) if args.photo.is_relative_to(ROOT) else args.photo}: "
          f"detecting and fitting {args.people} fighter(s) (the first job starts the bridge)", flush=True)
    with progress_line(operator_base, started):
        ops.detect_fighters()
    print(f"[demo] detected and fitted ({time.perf_counter() - started:.0f} s)", flush=True)
    if args.people == 2:
        with progress_line(operator_base, started):
            ops.resolve_contact()
        print(f"[demo] contact resolved ({time.perf_counter() - started:.0f} s)", flush=True)

    light = bpy.data.objects.new("Sun", bpy.data.lights.new("Sun", "SUN"))
    light.data.energy = 3.0
    light.rotation_euler = (0.8, 0.2, 0.6)
    scene.collection.objects.link(light)
    scene.world = bpy.data.worlds.new("Soft light")
    scene.world.color = (0.4, 0.4, 0.4)

    ops.export_gltf(filepath=str(out / "golden_score.glb"))
    ops.export_print(filepath=str(out / "statue.stl"))
    print(f"[demo] exported golden_score.glb and statue.stl ({time.perf_counter() - started:.0f} s); "
          f"rendering {args.samples} samples", flush=True)
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = args.samples
    scene.render.filepath = str(out / "render.png")
    scene.render.image_settings.file_format = "PNG"
    with native_output_silenced():
        bpy.ops.render.render(write_still=True)
        bpy.ops.wm.save_as_mainfile(filepath=str(out / "golden_score.blend"))
    print(f"[demo] wrote {out / 'golden_score.blend'}, golden_score.glb, statue.stl and render.png "
          f"({time.perf_counter() - started:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
