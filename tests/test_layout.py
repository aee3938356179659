"""The bridge's layout as a newcomer reads it: stages import only what comes before them, the
result format and the message schema stay pure Python (the add-on loads their files), and
finding keypoints does not pull in torch."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

BRIDGE = ROOT / "bridge"
# Each package (or top-level module) and the tier it sits in; imports may only go to a lower tier,
# or within the same package. jobs -> stages -> shared foundations.
TIERS = {
    "__init__": 0, "errors": 0, "messages": 0, "result": 1, "progress": 1, "keypoints": 2, "metrics": 2,
    "geometry": 3, "imaging": 3, "body": 3,
    "detection": 4, "fitting": 5, "refinement": 6,
    "jobs": 7, "info": 7, "serve": 8, "cli": 9, "__main__": 10,
}


def _package(path: Path) -> str:
    parts = path.relative_to(BRIDGE).with_suffix("").parts
    return parts[0]


def _imported_packages(path: Path) -> set[str]:
    """The bridge packages a module imports (relative imports resolved against its own folder)."""
    tree = ast.parse(path.read_text())
    here = path.relative_to(BRIDGE).parent.parts
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = here[:len(here) - (node.level - 1)] if node.level > 1 else here
            target = list(base) + (node.module.split(".") if node.module else [])
            if not target:  # `from . import x` at the top: x is a package or module
                target = [alias.name for alias in node.names]
                found.update(target)
            else:
                found.add(target[0])
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bridge."):
            found.add(node.module.split(".")[1])
    return found


def test_every_import_points_down_the_pipeline():
    wrong = []
    for path in sorted(BRIDGE.rglob("*.py")):
        package = _package(path)
        for target in _imported_packages(path) - {package}:
            if target == "__version__":
                continue
            if TIERS.get(target, 99) >= TIERS[package]:
                wrong.append(f"{path.relative_to(ROOT)} imports bridge.{target}")
    assert not wrong, "imports against the pipeline's direction:\n" + "\n".join(wrong)


def test_shared_modules_are_pure_standard_library():
    """The add-on (Blender's Python: no numpy guaranteed, never torch) loads these files as they are."""
    for name in ("messages.py", "result/format.py"):
        tree = ast.parse((BRIDGE / name).read_text())
        modules = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                   for alias in node.names}
        modules |= {node.module.split(".")[0] for node in ast.walk(tree)
                    if isinstance(node, ast.ImportFrom) and node.module and not node.level}
        assert modules <= {"__future__", "json"}, f"{name} imports {modules}"


def test_finding_keypoints_does_not_import_torch():
    code = ("import sys; import bridge.detection.fighters, bridge.detection.keypoint_file; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
