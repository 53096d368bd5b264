"""torch modules. Every model takes (x_cat int64 (B, n_cat), x_cont float32 (B, n_cont)).

Each model exposes ``layer_groups()`` -> list of modules, ordered from input to head, which the
learner uses for discriminative learning rates and freezing.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .ensemble import MemberScaling, Reduce, ensemble_head, reduce_members
from .neighbours import ItemNeighbours
from .num_embeddings import NumEmbeddings

__all__ = ["EntityEmbeddings", "TabularMLP", "SigmoidRange", "DotProductBias"]


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


class Dropout(nn.Module):
    """Inverted dropout, as ``nn.Dropout``, with a mask that is cheap to draw on CPU.

    Why: torch draws a CPU Bernoulli mask at several ns per element, a fifth of a default fit's
    step time on flights (profiled). Here one int64 draw gives four 16-bit uniforms, about ten
    times cheaper; ``p`` is kept to 1/65536. Other devices have fast fused kernels and use
    ``nn.functional.dropout``. Masks come from torch's generator, so seeds still reproduce.
    """

    def __init__(self, p: float):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {p!r}")
        self.p = float(p)
        # A uniform int16 is kept when it is at least this cut: P(keep) = 1 - round(p * 2^16) / 2^16.
        self._cut = -(2**15) + round(self.p * 2**16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.device.type != "cpu":
            return nn.functional.dropout(x, self.p, training=True)
        n = x.numel()
        bits = torch.randint(-(2**63), 2**63 - 1, ((n + 3) // 4,), dtype=torch.int64)
        keep = bits.view(torch.int16)[:n].view(x.shape) >= self._cut
        return x * (keep.to(x.dtype) * (1.0 / (1.0 - self.p)))

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _block(n_in: int, n_out: int, dropout: float, batchnorm: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(n_in, n_out), nn.ReLU()]
    if batchnorm:
        layers.append(nn.BatchNorm1d(n_out))
    if dropout > 0:
        layers.append(Dropout(dropout))
    return nn.Sequential(*layers)


def embedded_columns(n_cont: int, raw: Sequence[int]) -> list[int]:
    """The continuous columns that get numerical embeddings: all but the ``raw`` ones, in order."""
    return sorted(set(range(n_cont)) - {int(j) for j in raw})


class TabularMLP(nn.Module):
    """Entity embeddings (+ dropout) concatenated with continuous values, then an MLP and a head."""

    split_cont = False  # no raw columns (and what a model pickled before raw_cont existed reads)

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
        raw_cont: Sequence[Sequence[float]] = (),
        k: int = 1,
        reduce: Reduce = "mean",
    ):
        super().__init__()
        self.embeds = EntityEmbeddings(cardinalities, emb_dims)
        self.emb_drop = Dropout(emb_dropout) if emb_dropout > 0 else nn.Identity()
        # Optional vectors per continuous value (tabdl.num_embeddings); None keeps raw values.
        # raw_cont lists [column, low, high] of the columns that skip them (at most two values at
        # fit: flags, NaN indicators, constants): any function of two points is affine, so they
        # lose no capacity. They enter as 0 / 1, not at the scaler's values: a rare flag's
        # rank-gauss value (up to about 5) made fits worse (robustness.md, "Flags on wide tables").
        raw = sorted((int(j), float(lo), float(hi)) for j, lo, hi in raw_cont) if num_embeddings else []
        embedded = embedded_columns(n_cont, [j for j, _, _ in raw])
        self.num_embeds = (
            NumEmbeddings(len(embedded), num_embeddings, num_bins) if num_embeddings and embedded else None
        )
        self.split_cont = bool(raw)
        if self.split_cont:  # saved with the weights, moved with the model
            self.register_buffer("embedded_idx", torch.tensor(embedded, dtype=torch.int64))
            self.register_buffer("raw_idx", torch.tensor([j for j, _, _ in raw], dtype=torch.int64))
            self.register_buffer("raw_low", torch.tensor([lo for _, lo, _ in raw], dtype=torch.float32))
            self.register_buffer(
                "raw_scale", torch.tensor([1 / (hi - lo) if hi > lo else 1.0 for _, lo, hi in raw], dtype=torch.float32)
            )
        n_in = self.embeds.out_dim + (len(embedded) if self.num_embeds is None else self.num_embeds.out_dim) + len(raw)
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
        if self.split_cont:  # (B, n_cont) -> (B, n_embedded * d + n_raw)
            flags = (x_cont[:, self.raw_idx] - self.raw_low) * self.raw_scale  # 0 / 1
            x_cont = (
                flags
                if self.num_embeds is None
                else torch.cat([self.num_embeds(x_cont[:, self.embedded_idx]), flags], dim=1)
            )
        elif self.num_embeds is not None:
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


class _Offset(nn.Module):
    """A learned scalar added to the input (the global mean of a rating model, in logit space)."""

    def __init__(self, value: float = 0.0):
        super().__init__()
        self.value = nn.Parameter(torch.tensor([float(value)]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.value


class DotProductBias(nn.Module):
    """Matrix factorisation: ``user . item + b_user + b_item + global``, squashed into ``y_range``.

    ``x_cat`` holds (user code, item code); code 0 is the unknown id of either side. Users and
    items share one fused table of width ``n_factors + 1`` (the last column is the bias), so a
    batch costs a single gather. Unknown ids are masked to a zero factor and a zero bias: their
    prediction is the global term plus whatever bias is known. ``x_cont`` is ignored.
    """

    def __init__(
        self,
        *,
        n_users: int,
        n_items: int,
        n_factors: int,
        y_range: tuple[float, float] | None = None,
        global_bias: float = 0.0,
        init_std: float = 0.01,
        sparse: bool = False,
        neighbours: dict[str, int] | None = None,
    ):
        super().__init__()
        self.n_users, self.n_items, self.n_factors = int(n_users), int(n_items), int(n_factors)
        # sparse=True gives sparse gradients, for an optimizer that updates touched rows only
        # (tabdl.optim.LazyAdamW); torch's AdamW refuses them.
        # Row 0 is the unknown id of both sides (padding_idx: zero and never updated); row
        # n_users, the item side's own code 0, is never looked up.
        self.embeds = nn.Embedding(self.n_users + self.n_items, self.n_factors + 1, padding_idx=0, sparse=sparse)
        nn.init.trunc_normal_(self.embeds.weight, std=init_std, a=-2 * init_std, b=2 * init_std)
        with torch.no_grad():
            self.embeds.weight[:, -1] = 0.0  # biases start at zero: the global term starts at the mean
            self.embeds.weight[[0, self.n_users]] = 0.0  # the two unknown rows
        self.register_buffer("offsets", torch.tensor([0, self.n_users]), persistent=False)
        self.batch_penalty: torch.Tensor | None = None
        head: list[nn.Module] = [_Offset(global_bias)]
        if y_range is not None:
            head.append(SigmoidRange(*y_range))
        self.head = nn.Sequential(*head)
        self.y_range = y_range
        # The item-neighbourhood correction (tabdl.neighbours), fitted after training on the
        # residuals of the factors and applied at inference only; None: plain factorisation.
        self.neighbours = ItemNeighbours(self.n_items, **neighbours) if neighbours is not None else None

    def _corrected(self, out: torch.Tensor, correction) -> torch.Tensor:
        """``out`` plus the neighbourhood correction at inference, kept inside ``y_range``."""
        if self.neighbours is None or self.training:
            return out
        out = out + correction()
        return out if self.y_range is None else out.clamp(*self.y_range)

    @property
    def user_weight(self) -> torch.Tensor:
        """(n_users, n_factors + 1): factors then bias; row 0 is the unknown user."""
        return self.embeds.weight[: self.n_users]

    @property
    def item_weight(self) -> torch.Tensor:
        return self.embeds.weight[self.n_users :]

    def forward(self, x_cat: torch.Tensor, x_cont: torch.Tensor | None = None) -> torch.Tensor:
        # Unknown codes (0) of either side -> row 0; masking the int codes is cheaper than masking
        # the gathered vectors and their gradient.
        e = self.embeds((x_cat + self.offsets) * (x_cat > 0))  # (B, 2) -> (B, 2, F + 1)
        u, i = e[:, 0], e[:, 1]
        if self.training:
            # Squared values of the rows this batch used, per column and averaged over ratings: an L2
            # penalty per rating, as SGD matrix factorisation applies it, for a loss to add (tabdl.collab).
            self.batch_penalty = e.pow(2).sum(dim=(0, 1)) / len(e)  # (F + 1,): factors, then bias
        raw = (u[:, :-1] * i[:, :-1]).sum(dim=1) + u[:, -1] + i[:, -1]  # (B,)
        out = self.head(raw.unsqueeze(1))  # (B, 1)
        return self._corrected(out, lambda: self.neighbours(x_cat[:, 0], x_cat[:, 1]).unsqueeze(1))

    def __getstate__(self) -> dict:
        # The last training batch's penalty is part of that batch's autograd graph (a plain-MSE
        # loss never takes it): deepcopy (continued training copies the model) and pickle refuse
        # such a tensor, and it means nothing outside its batch.
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__
        return {**state, "batch_penalty": None}

    def score_matrix(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Scores of every (user, item) pair as a (U, I) matrix: one matmul, no per-pair gather."""
        u = self.embeds.weight[users]  # (U, F + 1); user code 0 is row 0, all zeros
        i = self.embeds.weight[(items + self.n_users) * (items > 0)]  # (I, F + 1)
        raw = u[:, :-1] @ i[:, :-1].T + u[:, -1:] + i[:, -1].unsqueeze(0)  # (U, I)
        return self._corrected(self.head(raw), lambda: self.neighbours.matrix(users, items))

    def layer_groups(self) -> list[nn.Module]:
        return [self.embeds, self.head]
