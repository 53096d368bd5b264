"""Training losses that take optional per-row weights (the estimators' ``sample_weight``).

Each is torch's own loss, and ``loss(out, y)`` is exactly torch's result, so a fit without
weights is the same fit, bit for bit. ``loss(out, y, weight)``, with one weight per row, turns the
batch mean into ``sum(weight * loss) / sum(weight * class weight)``: torch's own normalisation
by the class weights, with the row weights in it. A row of weight 2 counts as two rows
(scikit-learn's meaning of ``sample_weight``), and a row of weight 0 as none.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["CrossEntropyLoss", "MSELoss", "cross_entropy", "weighted_mean"]


def weighted_mean(per_row: torch.Tensor, weight: torch.Tensor, norm: torch.Tensor | None = None) -> torch.Tensor:
    """``sum(weight * per_row) / sum(norm)`` (``norm`` defaults to ``weight``).

    A batch whose rows all weigh 0 gives 0 and no gradient, not 0 / 0 = NaN, which the
    learner's divergence guard would take for a blow-up.
    """
    norm = weight if norm is None else norm
    return (per_row * weight).sum() / norm.sum().clamp_min(torch.finfo(per_row.dtype).tiny)


def cross_entropy(
    logits: torch.Tensor,
    y: torch.Tensor,
    weight: torch.Tensor | None = None,
    *,
    class_weight: torch.Tensor | None = None,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """``F.cross_entropy`` (mean over rows), with per-row ``weight`` when given."""
    if weight is None:
        return F.cross_entropy(logits, y, weight=class_weight, label_smoothing=label_smoothing)
    per_row = F.cross_entropy(logits, y, weight=class_weight, label_smoothing=label_smoothing, reduction="none")
    return weighted_mean(per_row, weight, weight if class_weight is None else weight * class_weight[y])


class CrossEntropyLoss(nn.CrossEntropyLoss):
    """``torch.nn.CrossEntropyLoss`` (class ``weight``, ``label_smoothing``), plus row weights."""

    def forward(self, out: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        if weight is None:
            return super().forward(out, y)
        return cross_entropy(out, y, weight, class_weight=self.weight, label_smoothing=self.label_smoothing)


class MSELoss(nn.MSELoss):
    """``torch.nn.MSELoss``, plus row weights (a row's loss is its mean over the outputs)."""

    def forward(self, out: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        if weight is None:
            return super().forward(out, y)
        return weighted_mean((out - y).pow(2).reshape(len(out), -1).mean(dim=1), weight)
