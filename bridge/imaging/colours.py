"""Which fighter's colours a set of pixels shows: each fighter's colour histogram, learnt from
its own GrabCut pixels, votes on the pixels. Both depth order (bridge.fitting.pair) and who owns a leg
two detections claim (bridge.detection.shared_legs) are read this way."""
from __future__ import annotations

import numpy as np

from .masks import dilate_mask, margin_px

COLOUR_BINS = 8  # per RGB channel: 512 colours, enough for a gi against skin, few enough for a thousand pixels


def fighter_colour_models(rgb: np.ndarray, masks: list[np.ndarray]) -> list[np.ndarray] | None:
    """Log colour histograms of two fighters, each from its mask less the other's, eroded off the
    shared edge (where GrabCut mixes them); None when a fighter has no pixels of its own."""
    models = []
    for own, other in zip(masks, masks[::-1]):
        pixels = rgb[~dilate_mask(~(own & ~other), margin_px(own))]  # eroded
        if len(pixels) == 0:
            return None
        share = np.histogramdd(pixels, bins=COLOUR_BINS, range=[(0, 256)] * 3)[0] / len(pixels)
        models.append(np.log(share + 1.0 / share.size))  # half uniform: unseen colours stay possible
    return models


def colour_vote(rgb: np.ndarray, models: list[np.ndarray], region: np.ndarray) -> float:
    """How clearly `region`'s pixels show fighter 0 (towards +1) rather than fighter 1 (towards
    -1): the mean of P(0 | colour) - P(1 | colour) with equal priors. Colours alike in both (skin;
    two white gis) vote about nothing, so the vote falls towards 0 where colour cannot tell."""
    if not region.any():
        return 0.0
    bins = tuple((rgb[region].astype(int) * COLOUR_BINS // 256).T)
    return float(np.tanh((models[0][bins] - models[1][bins]) / 2).mean())
