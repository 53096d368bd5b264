"""Parameter-efficient ensembling in the style of TabM-mini (Gorishniy et al. 2024, "TabM:
Advancing Tabular Deep Learning with Parameter-Efficient Ensembling"), on the ``tabm`` package.

k members share the embeddings and the MLP body. Each member owns only a scaling of the input
features (random-sign init, so members see different views from the first step) and its own
linear head. Training minimises the mean of the members' losses; prediction averages them (the
probabilities, for classifiers). One forward pass runs all k members as k*B rows, so the cost
is k times the body, not k fits.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

__all__ = ["MemberScaling", "MemberLoss", "ensemble_head", "reduce_members"]

Reduce = Literal[
    "mean",  # regression: the mean of the members' outputs
    "proba",  # classification: log of the mean of the members' softmax probabilities
]


class MemberScaling(nn.Module):
    """``(B, D) -> (B, k, D)``: each member multiplies the shared features by its own scaling."""

    def __init__(self, k: int, d: int):
        super().__init__()
        from tabm import ElementwiseAffine

        self.affine = ElementwiseAffine((k, d), bias=False, scaling_init="random-signs")
        self.k = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.affine(x.unsqueeze(1).expand(-1, self.k, -1))  # (B, D) -> (B, k, D)


def ensemble_head(d_in: int, n_out: int, k: int) -> nn.Module:
    """k independent linear heads: ``(B, k, d_in) -> (B, k, n_out)``."""
    from tabm import LinearEnsemble

    return LinearEnsemble(d_in, n_out, k=k)


def reduce_members(out: torch.Tensor, how: str) -> torch.Tensor:
    """``(B, k, n_out) -> (B, n_out)``: the ensemble's prediction, in the same space as one member's.

    For classifiers this returns log(mean p), whose softmax is mean p again, so downstream code
    (softmax in predict_proba, cross-entropy as the validation loss) needs no change.
    """
    if how == "proba":
        return torch.log(torch.softmax(out.float(), dim=-1).mean(dim=1).clamp_min(1e-12))
    return out.mean(dim=1)


class MemberLoss(nn.Module):
    """The mean of the members' losses on ``(B, k, n_out)`` outputs; plain loss on ``(B, n_out)``."""

    def __init__(self, base: nn.Module):
        super().__init__()
        self.base = base

    def forward(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if out.ndim == 3:
            k = out.shape[1]
            # (B, k, n_out) -> (B*k, n_out); targets repeated per member in the same order.
            return self.base(out.flatten(0, 1), y.repeat_interleave(k, dim=0))
        return self.base(out, y)
