"""The add-on's own operators in headless Blender on the sample photo (`python build.py demo`).

    .venv/bin/python tools/demo_blender.py EXTENSION_ZIP [--out out/demo]

Installs the extension zip into a private Blender user folder (out/demo/blender_user, so a real
Blender configuration is never touched), imports the photo, detects and fits the fighter,
and saves golden_score.blend, golden_score.glb, statue.stl and render.png (the posed fighter
over the photo, Cycles on the CPU).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_PHOTO = ROOT / "assets" / "sample" / "photo.jpg"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("extension_zip", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "demo")
    parser.add_argument("--samples", type=int, default=16, help="Cycles samples for render.png")
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ["BLENDER_USER_RESOURCES"] = str(out / "blender_user")
    import bpy  # after the user folder is chosen

    started = time.perf_counter()
    bpy.ops.extensions.package_install_files(filepath=str(args.extension_zip.resolve()), repo="user_default",
                                             enable_on_install=True)
    bpy.ops.wm.read_homefile(use_empty=True)
    ops = bpy.ops.golden_score
    ops.import_photo(filepath=str(SAMPLE_PHOTO))
    scene = bpy.context.scene
    scene.golden_score.people = 1  # the sample shows one person
    ops.detect_fighters()
    print(f"[demo] fighter detected and fitted ({time.perf_counter() - started:.0f} s)", flush=True)

    light = bpy.data.objects.new("Sun", bpy.data.lights.new("Sun", "SUN"))
    light.data.energy = 3.0
    light.rotation_euler = (0.8, 0.2, 0.6)
    scene.collection.objects.link(light)
    scene.world = bpy.data.worlds.new("Soft light")
    scene.world.color = (0.4, 0.4, 0.4)

    ops.export_gltf(filepath=str(out / "golden_score.glb"))
    ops.export_print(filepath=str(out / "statue.stl"))
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = args.samples
    scene.render.filepath = str(out / "render.png")
    scene.render.image_settings.file_format = "PNG"
    bpy.ops.render.render(write_still=True)
    bpy.ops.wm.save_as_mainfile(filepath=str(out / "golden_score.blend"))
    print(f"[demo] wrote {out / 'golden_score.blend'}, golden_score.glb, statue.stl and render.png "
          f"({time.perf_counter() - started:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
