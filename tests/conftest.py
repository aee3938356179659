import os
import subprocess
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


def run_bridge(*args, cwd=ROOT, env=None, timeout=600):
    """`python -m bridge ARGS` as a user (or the add-on) runs it."""
    return subprocess.run([sys.executable, "-m", "bridge", *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=timeout)


@pytest.fixture(scope="session")
def fitted_sample(tmp_path_factory):
    """A result folder of the sample photo (one fighter), for the jobs that start from one."""
    from bridge.progress import Reporter
    from bridge.jobs.reconstruct import reconstruct

    out = tmp_path_factory.mktemp("fitted") / "sample"
    with open(os.devnull, "w") as quiet:
        reconstruct(SAMPLE / "photo.jpg", out, reporter=Reporter(stream=quiet))
    return out
