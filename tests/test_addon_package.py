"""The extension as a package: Blender's manifest rules, its zip, registering and unregistering."""
import subprocess
import sys
import zipfile

from blender_addon import MODULE


def test_zip_passes_blenders_manifest_validation(extension_zip):
    import build

    check = subprocess.run([sys.executable, str(build.blender_ext_tool()), "validate", str(extension_zip)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    source = subprocess.run([sys.executable, str(build.blender_ext_tool()), "validate", str(build.EXTENSION_SOURCE)],
                            capture_output=True, text=True)
    assert source.returncode == 0, source.stdout + source.stderr


def test_zip_carries_the_bridge_and_its_requirements(extension_zip):
    names = set(zipfile.ZipFile(extension_zip).namelist())
    assert {"blender_manifest.toml", "__init__.py", "bridge/__main__.py", "bridge/messages.py",
            "requirements.txt", "build_defaults.json", "bridge/detection/models/pose_landmark_heavy.tflite",
            "bridge/detection/models/LICENSE", "bridge/detection/models/NOTICE"} <= names
    assert not any("__pycache__" in name for name in names)
    requirements = zipfile.ZipFile(extension_zip).read("requirements.txt").decode()
    assert "torch" in requirements and "bpy" not in requirements and "pytest" not in requirements


def test_addon_code_imports_nothing_outside_stdlib_numpy_and_blender():
    import ast

    import build

    allowed = set(sys.stdlib_module_names) | {"bpy", "bpy_extras", "mathutils", "numpy"}
    for path in build.EXTENSION_SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"


def test_extension_registers_and_unregisters_cleanly(addon, blender):
    bpy = blender
    assert hasattr(bpy.types.Scene, "golden_score")
    assert hasattr(bpy.ops.golden_score, "detect_fighters") and bpy.ops.golden_score.detect_fighters.get_rna_type()
    assert "GS_PT_photo" in dir(bpy.types)
    bpy.ops.preferences.addon_disable(module=MODULE)
    try:
        assert not hasattr(bpy.types.Scene, "golden_score")
        assert "GS_PT_photo" not in dir(bpy.types)
        assert MODULE not in bpy.context.preferences.addons
    finally:
        bpy.ops.preferences.addon_enable(module=MODULE)
    assert hasattr(bpy.types.Scene, "golden_score")
    assert bpy.context.preferences.addons[MODULE].preferences.body_model == "anny"
