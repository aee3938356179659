import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SAMPLE = ROOT / "assets" / "sample"
pytest_plugins = ["blender_addon"]  # fixtures of the Blender add-on tests (one Blender session for all)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running; kept out of `python build.py test`")


@pytest.fixture(scope="session")
def body():
    from bridge.body import load_body_model

    return load_body_model("anny")


@pytest.fixture(scope="session")
def sample_truth():
    import numpy as np

    return dict(np.load(SAMPLE / "truth.npz"))
