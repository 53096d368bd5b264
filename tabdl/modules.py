"""torch modules. Every model takes (x_cat int64 (B, n_cat), x_cont float32 (B, n_cont)).

Each model exposes ``layer_groups()`` -> list of modules, ordered from input to head, which the
learner uses for discriminative learning rates and freezing.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .ensemble import MemberScaling, ensemble_head, reduce_members
from .num_embeddings import NumEmbeddings

__all__ = ["EntityEmbeddings", "TabularMLP", "SigmoidRange"]


class EntityEmbeddings(nn.Module):
    """One table per categorical column; row 0 of each table is the unknown/missing/rare vector."""

    def __init__(self, cardinalities: Sequence[int], dims: Sequence[int]):
        super().__init__()
        self.tables = nn.ModuleList(nn.Embedding(n, d) for n, d in zip(cardinalities, dims))
        for t in self.tables:
            # fastai's truncated normal at std 0.01: small vectors keep early logits calm.
            nn.init.trunc_normal_(t.weight, std=0.01, a=-0.02, b=0.02)
        self.out_dim = int(sum(dims))

    def forward(self, x_cat: torch.Tensor) -> torch.Tensor:
        # (B, n_cat) -> (B, sum(dims))
        return torch.cat([t(x_cat[:, i]) for i, t in enumerate(self.tables)], dim=1)


class SigmoidRange(nn.Module):
    def __init__(self, low: float, high: float):
        super().__init__()
        self.low, self.high = float(low), float(high)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x) * (self.high - self.low) + self.low

    def extra_repr(self) -> str:
        return f"low={self.low}, high={self.high}"


def _block(n_in: int, n_out: int, dropout: float, batchnorm: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(n_in, n_out), nn.ReLU()]
    if batchnorm:
        layers.append(nn.BatchNorm1d(n_out))
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class TabularMLP(nn.Module):
    """Entity embeddings (+ dropout) concatenated with continuous values, then an MLP and a head."""

    def __init__(
        self,
        *,
        cardinalities: Sequence[int],
        emb_dims: Sequence[int],
        n_cont: int,
        n_out: int,
        layers: Sequence[int] = (200, 100),
        dropout: float = 0.0,
        emb_dropout: float = 0.0,
        batchnorm: bool = True,
        y_range: tuple[float, float] | None = None,
        num_embeddings: dict | None = None,
        num_bins: list[list[float]] | None = None,
        k: int = 1,
        reduce: str = "mean",
    ):
        super().__init__()
        self.embeds = EntityEmbeddings(cardinalities, emb_dims)
        self.emb_drop = nn.Dropout(emb_dropout) if emb_dropout > 0 else nn.Identity()
        # Optional vectors per continuous value (tabdl.num_embeddings); None keeps raw values.
        self.num_embeds = NumEmbeddings(n_cont, num_embeddings, num_bins) if num_embeddings and n_cont else None
        n_in = self.embeds.out_dim + (self.num_embeds.out_dim if self.num_embeds is not None else n_cont)
        # k > 1: a TabM-mini ensemble (tabdl.ensemble); members differ in input scaling and head.
        self.k, self.reduce = int(k), reduce
        self.members = MemberScaling(self.k, n_in) if self.k > 1 else None
        blocks = []
        for width in layers:
            blocks.append(_block(n_in, width, dropout, batchnorm))
            n_in = width
        self.body = nn.Sequential(*blocks)
        head: list[nn.Module] = [nn.Linear(n_in, n_out) if self.k == 1 else ensemble_head(n_in, n_out, self.k)]
        if y_range is not None:
            head.append(SigmoidRange(*y_range))
        self.head = nn.Sequential(*head)

    def forward(self, x_cat: torch.Tensor, x_cont: torch.Tensor) -> torch.Tensor:
        x = self.emb_drop(self.embeds(x_cat)) if len(self.embeds.tables) else x_cont[:, :0]
        if self.num_embeds is not None:
            x_cont = self.num_embeds(x_cont)  # (B, n_cont) -> (B, n_cont * d)
        x = torch.cat([x, x_cont], dim=1)  # (B, D)
        if self.members is None:
            return self.head(self.body(x))  # (B, n_out)
        h = self.body(self.members(x).flatten(0, 1))  # (B, D) -> (B, k, D) -> (B*k, H)
        out = self.head(h.unflatten(0, (x.shape[0], self.k)))  # (B, k, n_out)
        # Training sees every member (MemberLoss averages their losses); inference their mean.
        return out if self.training else reduce_members(out, self.reduce)

    def layer_groups(self) -> list[nn.Module]:
        first = self.embeds if self.num_embeds is None else nn.ModuleList([self.embeds, self.num_embeds])
        body = self.body if self.members is None else nn.ModuleList([self.members, self.body])
        return [first, body, self.head]
