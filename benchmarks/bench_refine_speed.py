"""Refinement speed: iterations per second for one fighter, by loss and resolution.

    .venv/bin/python benchmarks/bench_refine_speed.py [--device auto|cpu|cuda] [--iterations N]

Starts from the true pose of the sample photo's fighter (the speed does not depend on where it
starts), with the 384 x 512 photo padded to a 512 x 512 square so that 256 means 256 x 256
pixels, and reports the steady rate, after the first iteration (which compiles the renderer's
kernels). Issue target: at least 2 it/s at 256 x 256 with the silhouette and keypoint losses on
the 2-core CPU.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge.body import load_body_model  # noqa: E402
from bridge.fitting.state import FighterState
from bridge.refinement.refine import RefineSettings, RefineTarget, refine_fighter  # noqa: E402

SAMPLE = ROOT / "assets" / "sample"
CASES = [("silhouette + keypoints", 256, 0.0), ("silhouette + keypoints + RGB", 256, 1.0),
         ("silhouette + keypoints", 512, 0.0), ("silhouette + keypoints + RGB", 512, 1.0)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--iterations", type=int, default=30)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    body = load_body_model("anny")
    truth = np.load(SAMPLE / "truth.npz")
    rgb = cv2.cvtColor(cv2.imread(str(SAMPLE / "photo.jpg")), cv2.COLOR_BGR2RGB)
    mask = cv2.imread(str(SAMPLE / "mask_0.png"), cv2.IMREAD_GRAYSCALE) > 127
    pad = (rgb.shape[0] - rgb.shape[1]) // 2  # to a square, so the resolution is the image's size
    rgb = cv2.copyMakeBorder(rgb, 0, 0, pad, pad, cv2.BORDER_CONSTANT, value=(128, 128, 128))
    mask = cv2.copyMakeBorder(mask.astype(np.uint8), 0, 0, pad, pad, cv2.BORDER_CONSTANT, value=0) > 0
    K = truth["K"].copy()
    K[0, 2] += pad
    points = truth["keypoints2d"][0] + (pad, 0)
    start = FighterState(*(torch.as_tensor(truth[k][0], dtype=torch.float32) for k in ("shape", "pose", "transl")))
    target = RefineTarget(rgb, mask, None, points, np.ones(25, np.float32))
    print(f"{'losses':<32}{'pixels':>10}{'it/s':>8}")
    for name, resolution, rgb_weight in CASES:
        settings = RefineSettings(iterations=args.iterations, resolution=resolution, rgb_weight=rgb_weight)
        refine_fighter(body, start, target, K, RefineSettings(iterations=1, resolution=resolution,
                                                                       rgb_weight=rgb_weight), device=args.device)
        began = time.perf_counter()
        _, stats = refine_fighter(body, start, target, K, settings, device=args.device)
        print(f"{name:<32}{f'{resolution}x{resolution}':>10}{stats.iterations_per_second:>8.2f}"
              f"   ({time.perf_counter() - began:.1f} s with set-up)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
