"""Anny's phenotype -> blendshape coefficients in a couple of dozen tensor operations.

Why: the fit moves the phenotype every step, and Anny's own function interpolates one phenotype
at a time through a dict; at the fit's batch sizes a step costs the count of operations, not
their size (measured: docs/decisions.md, "Warm bridge"). This is the same computation (linear
interpolation between each phenotype's anchors, a product over the variations each blendshape
mixes, Anny's compact projection) done for all phenotypes at once; the test against Anny's
function pins it to the anny version we ship.
"""
from __future__ import annotations

import torch
from anny.models.model_data import PHENOTYPE_VARIATIONS  # anny is imported with the model

RACES = PHENOTYPE_VARIATIONS["race"]


class PhenotypeCoefficients:
    """Callable: phenotype values (B, len(model.phenotype_labels)) -> coefficients (B, C)."""

    def __init__(self, model):
        if model.local_change_labels or model.facial_action_labels:
            raise ValueError("local changes and facial actions are not supported by the fast phenotype path")
        if model.extrapolate_phenotypes:
            raise ValueError("extrapolated phenotypes are not supported by the fast phenotype path")
        labels = list(model.phenotype_labels)
        dtype = model.template_vertices.dtype
        features = [f for f in PHENOTYPE_VARIATIONS if f != "race"]
        width = max(len(PHENOTYPE_VARIATIONS[f]) for f in features)
        # Anchors padded with +inf: counting anchors below a value is searchsorted(side="left").
        anchors = torch.full((len(features), width), float("inf"), dtype=dtype)
        for row, feature in enumerate(features):
            anchors[row, :len(model.anchors[feature])] = model.anchors[feature]
        counts = torch.tensor([len(model.anchors[f]) for f in features])
        self.anchors, self.last_index = anchors, counts - 1
        self.low = anchors[:, 0]
        self.high = anchors.gather(1, self.last_index[:, None])[:, 0]
        # Each feature's value: a column of the parameters, or the last column (0.5, the default).
        self.feature_column = torch.tensor([labels.index(f) if f in labels else len(labels) for f in features])
        self.race_column = torch.tensor([labels.index(r) if r in labels else len(labels) for r in RACES])
        # The flattened (feature, anchor) weights in PHENOTYPE_VARIATIONS' order, after the races.
        self.variation_index = torch.cat([row * width + torch.arange(len(PHENOTYPE_VARIATIONS[f]))
                                          for row, f in enumerate(features)])
        # Per blendshape, the variations it mixes (at most one per phenotype); padding points at a
        # column of ones appended to the variations' weights.
        mask = model.stacked_phenotype_blend_shapes_mask > 0
        mixed = int(mask.sum(1).max())
        self.factor_index = torch.full((mask.shape[0], mixed), mask.shape[1])
        for row, columns in enumerate(mask):
            used = columns.nonzero()[:, 0]
            self.factor_index[row, :len(used)] = used
        self.projection = model.phenotype_blendshape_projection

    def __call__(self, phenotype: torch.Tensor) -> torch.Tensor:
        batch = phenotype.shape[0]
        padded = torch.cat([phenotype, phenotype.new_full((batch, 1), 0.5)], dim=1)
        value = padded[:, self.feature_column]
        # Clamped as Anny clamps (torch.where, so a value on a boundary keeps its gradient).
        value = torch.where(value < self.low, self.low, value)
        value = torch.where(value > self.high, self.high, value)
        upper = (self.anchors < value[..., None]).sum(-1)
        upper = torch.minimum(upper.clamp(min=1), self.last_index)[..., None]
        lower_anchor = self.anchors.expand(batch, -1, -1).gather(2, upper - 1)[..., 0]
        upper_anchor = self.anchors.expand(batch, -1, -1).gather(2, upper)[..., 0]
        alpha = ((value - lower_anchor) / (upper_anchor - lower_anchor))[..., None]
        weights = torch.zeros(batch, *self.anchors.shape, dtype=phenotype.dtype)
        weights = weights.scatter(2, upper - 1, 1.0 - alpha).scatter(2, upper, alpha)
        race = padded[:, self.race_column]
        race = torch.nan_to_num(race / race.sum(dim=1, keepdim=True), 1 / 3, 1 / 3, 1 / 3)
        phens = torch.cat([race, weights.flatten(1)[:, self.variation_index], race.new_ones(batch, 1)], dim=1)
        coefficients = phens[:, self.factor_index].prod(dim=-1)
        return coefficients if self.projection is None else coefficients @ self.projection
