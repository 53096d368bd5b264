"""Parameter-efficient ensembling in the style of TabM-mini (Gorishniy et al. 2024, "TabM:
Advancing Tabular Deep Learning with Parameter-Efficient Ensembling"), on the ``tabm`` package.

k members share the embeddings and the MLP body. Each member owns only a scaling of the input
features (random-sign init, so members see different views from the first step) and its own
linear head. Training minimises the mean of the members' losses; prediction averages them (the
probabilities, for classifiers). One forward pass runs all k members as k*B rows, so the cost
is k times the body, not k fits.

``NetBag`` is the other kind of ensemble: whole nets trained one after another, each with its
own seed and its own validation cut (the estimators' ``n_bags``), averaged the same way.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import nn

__all__ = ["MemberScaling", "MemberLoss", "NetBag", "ensemble_head", "out_of_bag", "reduce_members"]

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


def _to_averaged(out: torch.Tensor, how: Reduce) -> torch.Tensor:
    """Raw outputs -> the space members are averaged in (probabilities for "proba")."""
    return torch.softmax(out.float(), dim=-1) if how == "proba" else out


def _from_averaged(mean: torch.Tensor, how: Reduce) -> torch.Tensor:
    """An average back to one model's raw-output space: log(mean p) for "proba", whose softmax
    is mean p again, so downstream code (softmax in predict_proba, cross-entropy as the
    validation loss) needs no change."""
    return torch.log(mean.clamp_min(1e-12)) if how == "proba" else mean


def reduce_members(out: torch.Tensor, how: Reduce) -> torch.Tensor:
    """``(B, k, n_out) -> (B, n_out)``: the ensemble's prediction, in the same space as one member's."""
    return _from_averaged(_to_averaged(out, how).mean(dim=1), how)


class MemberLoss(nn.Module):
    """The mean of the members' losses on ``(B, k, n_out)`` outputs; plain loss on ``(B, n_out)``.
    With row weights (``tabdl.losses``), every member's rows carry them."""

    def __init__(self, base: nn.Module):
        super().__init__()
        self.base = base

    def forward(self, out: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        if out.ndim == 3:
            k = out.shape[1]
            # (B, k, n_out) -> (B*k, n_out); targets (and row weights) repeated per member in the same order.
            out, y = out.flatten(0, 1), y.repeat_interleave(k, dim=0)
            weight = None if weight is None else weight.repeat_interleave(k)
        return self.base(out, y) if weight is None else self.base(out, y, weight)


class _ScaleGrad(torch.autograd.Function):
    """Identity forward; the backward multiplies the gradient by ``scale``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad * ctx.scale, None


class NetBag(nn.Module):
    """Nets trained independently, as one model: inference averages them as ``reduce_members``
    does (probabilities for classifiers); training returns every net's output(s) as members,
    ``(B, sum of k, n_out)``, so ``MemberLoss`` trains each net on its own loss when a fitted
    bag trains further (fit_one_cycle, fine_tune).

    Each net is a ``TabularMLP`` (itself a TabM-mini ensemble when its k > 1). Layer groups are
    the nets' groups side by side, so freezing and discriminative learning rates act on all nets.
    """

    def __init__(self, nets: list[nn.Module], reduce: Reduce):
        super().__init__()
        self.nets = nn.ModuleList(nets)
        self.reduce = reduce
        self.k = sum(getattr(net, "k", 1) for net in nets)  # members, for MemberLoss

    def forward(self, x_cat: torch.Tensor, x_cont: torch.Tensor) -> torch.Tensor:
        outs = [net(x_cat, x_cont) for net in self.nets]
        if self.training:  # (B, n_out) or (B, k, n_out) per net -> (B, sum of k, n_out)
            outs = [o if o.ndim == 3 else o.unsqueeze(1) for o in outs]
            # MemberLoss averages over all sum-of-k members, which hands net i only k_i / (sum of k)
            # of its own loss's gradient. Adam's eps is not scale-free, so the bag's nets would train
            # as if on a smaller loss than one net does; the scale restores each net's own gradient
            # and leaves the reported loss the mean.
            if len(outs) > 1:
                outs = [_ScaleGrad.apply(o, self.k / o.shape[1]) for o in outs]
            return torch.cat(outs, dim=1)
        return reduce_members(torch.stack(outs, dim=1), self.reduce)  # (B, n_nets, n_out) -> (B, n_out)

    @property
    def embeds(self) -> nn.Module:
        """The first net's entity embeddings (what ``EntityEmbeddingEncoder`` exports): each net
        learned its own, equally valid, coordinates, which cannot be averaged."""
        return self.nets[0].embeds

    def layer_groups(self) -> list[nn.Module]:
        return [nn.ModuleList(groups) for groups in zip(*(net.layer_groups() for net in self.nets))]


def out_of_bag(parts: list[tuple[np.ndarray, torch.Tensor]], how: Reduce) -> tuple[np.ndarray, torch.Tensor]:
    """Each net's validation predictions ``(rows, raw outputs)`` -> the rows held out by at least
    one net and, per row, the average over the nets that held it out (in ``reduce_members``' space,
    so it reads like the output of one model). Rows index one frame shared by all parts."""
    if len(parts) == 1:
        return parts[0]
    rows = np.concatenate([r for r, _ in parts])
    outs = _to_averaged(torch.cat([o.float() for _, o in parts]), how)
    held, inverse = np.unique(rows, return_inverse=True)
    index = torch.from_numpy(inverse).to(outs.device)
    sums = torch.zeros((len(held), *outs.shape[1:]), dtype=outs.dtype, device=outs.device).index_add_(0, index, outs)
    counts = torch.bincount(index, minlength=len(held)).to(outs.dtype).reshape(-1, *[1] * (outs.ndim - 1))
    return held, _from_averaged(sums / counts, how)
