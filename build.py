#!/usr/bin/env python3
"""Golden Score's one entry point for people and CI.

    python build.py demo    make the environment if needed, run the Blender add-on on the bundled sample photo
    python build.py test    make the environment if needed, run the test suite
    python build.py bench   make the environment if needed, run the benchmark (from detections and from true keypoints)
    python build.py env     only create or repair the environment
    python build.py env --smplx  also install the optional SMPL-X package (non-commercial licence, see README)
    python build.py extension  build the Blender extension zip (Install from Disk) into build/

The environment is `.venv` (Python 3.11) with the pins of requirements.txt. It is repaired
whenever requirements.txt changes (a stamp file records its hash) and it carries the Anny
model cache, built once here and never inside a test.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".golden-score-stamp"
REQUIREMENTS = ROOT / "requirements.txt"
SMPLX_REQUIREMENTS = ROOT / "requirements-smplx.txt"
SMPLX_STAMP = VENV / ".golden-score-smplx-stamp"
SAMPLE_PHOTO = ROOT / "assets" / "sample" / "photo.jpg"
DEMO_OUT = ROOT / "out" / "demo"
EXTENSION_SOURCE = ROOT / "goldenscore_blender"
EXTENSION_OUT = ROOT / "build"
BLENDER_ONLY_REQUIREMENTS = ("bpy", "pytest")  # test tools, not needed by the bridge in its own environment
LLVM_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/libLLVM.so.19.1",
    "/usr/lib/x86_64-linux-gnu/libLLVM-19.so.1",
    "/usr/lib/aarch64-linux-gnu/libLLVM.so.19.1",
)


def say(line: str) -> None:
    print(f"[build] {line}", flush=True)


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def requirements_hash() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def run(cmd: list[str], **kwargs) -> int:
    return subprocess.call([str(c) for c in cmd], **kwargs)


def ensure_python_311() -> None:
    if sys.version_info[:2] != (3, 11):
        sys.exit(
            f"[build] Python 3.11 is needed (Blender 4.5's bpy module and the pinned wheels are "
            f"built for it); this is {sys.version.split()[0]}. Run: python3.11 build.py ..."
        )


def ensure_llvm() -> None:
    """Mitsuba's CPU variant needs libLLVM 19 (LLVM 15 fails inside drjit 1.5)."""
    if sys.platform != "linux" or any(Path(p).exists() for p in LLVM_CANDIDATES):
        return
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        say("installing libllvm19 from Debian (Mitsuba's CPU renderer needs it)")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        if run(["apt-get", "install", "-y", "-qq", "libllvm19"], env=env) != 0:
            run(["apt-get", "update", "-qq"], env=env)
            run(["apt-get", "install", "-y", "-qq", "libllvm19"], env=env)
    if not any(Path(p).exists() for p in LLVM_CANDIDATES):
        say(
            "libLLVM 19 was not found, so refinement on the CPU will not run (fitting works). "
            "Install it with: sudo apt-get install libllvm19"
        )


def ensure_env() -> Path:
    ensure_python_311()
    python = venv_python()
    wanted = requirements_hash()
    if python.exists() and STAMP.exists() and STAMP.read_text().strip() == wanted:
        return python
    if not python.exists():
        say(f"creating the environment in {VENV}")
        if run([sys.executable, "-m", "venv", VENV]) != 0:
            sys.exit("[build] could not create .venv; install Python's venv module (apt-get install python3-venv)")
    say("installing the pinned dependencies (the first time takes a few minutes)")
    if run([python, "-m", "pip", "install", "-q", "--upgrade", "pip"]) != 0:
        sys.exit("[build] pip could not upgrade itself; check the network to the package registry")
    if run([python, "-m", "pip", "install", "-q", "-r", REQUIREMENTS]) != 0:
        sys.exit("[build] installing requirements.txt failed; the lines above say which package")
    ensure_llvm()
    say("building the Anny model cache (once, about a minute)")
    if run([python, "-m", "bridge", "warmup"], cwd=ROOT) != 0:
        sys.exit("[build] building the Anny model cache failed; see the lines above")
    STAMP.write_text(wanted)
    say("environment ready")
    return python


def blender_ext_tool() -> Path:
    """Blender's own extension tool (validate, build), shipped inside the bpy wheel."""
    found = sorted(VENV.glob("lib/python*/site-packages/bpy/*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
    if not found:
        sys.exit("[build] Blender's extension tool was not found in .venv (the bpy package); run: python build.py env")
    return found[-1]


def build_extension(out_dir: Path = EXTENSION_OUT) -> Path:
    """The zip that Blender's "Install from Disk" takes: the add-on, a copy of the bridge package
    and its requirements (for the add-on's "Create Environment"), and the path of this
    checkout's environment as the default bridge interpreter."""
    out_dir = Path(out_dir)
    staging = out_dir / "golden_score"
    shutil.rmtree(staging, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(EXTENSION_SOURCE, staging, ignore=ignore)
    shutil.copytree(ROOT / "bridge", staging / "bridge", ignore=ignore)
    lines = [line for line in REQUIREMENTS.read_text().splitlines()
             if line.split("=")[0].strip().lower() not in BLENDER_ONLY_REQUIREMENTS]
    (staging / "requirements.txt").write_text("\n".join(lines) + "\n")
    if venv_python().exists():
        (staging / "build_defaults.json").write_text(json.dumps({"interpreter": str(venv_python())}))
    tool = blender_ext_tool()
    if run([venv_python(), tool, "build", "--source-dir", staging, "--output-dir", out_dir]) != 0:
        sys.exit("[build] Blender's extension tool refused the package; see the lines above")
    manifest = tomllib.loads((EXTENSION_SOURCE / "blender_manifest.toml").read_text())
    return out_dir / f"{manifest['id']}-{manifest['version']}.zip"


def cmd_extension() -> int:
    ensure_env()
    zip_path = build_extension()
    say(f"extension: {zip_path} (Blender: Edit > Preferences > Get Extensions > Install from Disk)")
    return 0


def ensure_smplx(python: Path) -> None:
    """The optional smplx package (--body smplx). Its licence is non-commercial research only
    and binds whoever installs it, so only `env --smplx` and the test suite (which tests the
    SMPL-X code) install it."""
    wanted = hashlib.sha256(SMPLX_REQUIREMENTS.read_bytes()).hexdigest()
    if SMPLX_STAMP.exists() and SMPLX_STAMP.read_text().strip() == wanted:
        return
    say("installing the optional SMPL-X package (smplx; non-commercial research licence, see README)")
    if run([python, "-m", "pip", "install", "-q", "-r", SMPLX_REQUIREMENTS]) != 0:
        sys.exit("[build] installing requirements-smplx.txt failed; the lines above say why")
    SMPLX_STAMP.write_text(wanted)


def cmd_demo() -> int:
    """The add-on's own operators in headless Blender on a committed two-fighter scene."""
    python = ensure_env()
    zip_path = build_extension()
    code = run([python, ROOT / "tools" / "demo_blender.py", zip_path, "--out", DEMO_OUT], cwd=ROOT)
    if code == 0:
        say(f"results are in {DEMO_OUT}: render.png (the two fighters over the photo), golden_score.blend, "
            "golden_score.glb, statue.stl")
    return code


def cmd_test(extra: list[str]) -> int:
    python = ensure_env()
    ensure_smplx(python)  # the suite tests the SMPL-X code on a synthetic model file
    code = run([python, "-m", "pytest", "-q", "-m", "not slow", "tests", *extra], cwd=ROOT)
    return 0 if code == 5 else code  # 5: no test collected for the selection given


def cmd_bench(extra: list[str]) -> int:
    """Both runs: from detections, then from the scenes' true 2D keypoints (--true-keypoints
    alone runs only the second)."""
    python = ensure_env()
    if "--true-keypoints" in extra:
        return run([python, "benchmarks/bench_reconstruct.py", *extra], cwd=ROOT)
    code = run([python, "benchmarks/bench_reconstruct.py", *extra], cwd=ROOT)
    return code or run([python, "benchmarks/bench_reconstruct.py", *extra, "--true-keypoints"], cwd=ROOT)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test", "bench", "env", "extension"}:
        print(__doc__)
        return 2
    command, extra = argv[0], argv[1:]
    if command == "env":
        python = ensure_env()
        if "--smplx" in extra:
            ensure_smplx(python)
        return 0
    if command == "demo":
        return cmd_demo()
    if command == "extension":
        return cmd_extension()
    if command == "test":
        return cmd_test(extra)
    return cmd_bench(extra)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
