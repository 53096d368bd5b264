"""An item-neighbourhood correction on top of matrix factorisation (Koren 2008, "Factorization
Meets the Neighborhood"; Bell & Koren 2007, kNN on the residuals of a global model).

After the factors are trained, each training rating leaves a residual ``r_uj = y_uj - MF(u, j)``.
Items whose residuals move together across users (a cosine over co-raters, shrunk towards 0 when
few users rated both) are neighbours. A prediction for ``(u, i)`` then adds the user's own
residuals on ``i``'s nearest neighbours:

    MF(u, i) + sum_j s_ij r_uj / (sum_j s_ij + DENOM_SHRINK),   j in N_k(i) rated by u

so a user who rates a whole series higher than the factors say gets that lift on its next film.
Unknown users have no residuals and unknown items no neighbours: both get no correction.

``fit_item_neighbours`` learns the tables (numpy/scipy, once per training cycle); ``ItemNeighbours``
holds them as buffers (saved with the weights, moved with the model) and applies them in torch.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from scipy import sparse
from torch import nn

__all__ = ["ItemNeighbours", "fit_item_neighbours"]

# Shrinkage of a similarity by its support: s * n / (n + SIM_SHRINK), n = users who rated both.
# On movielens validation parts (3 splits x 2 seeds, RMSE change vs plain MF, k = 50): 5 and 20
# tie with DENOM_SHRINK 1 (-0.0083 / -0.0082); with 0.5, 20 is ahead (-0.0095 vs -0.0080). 20
# keeps similarities of little support small, the safer side on sparser data
# (benchmarks/results/collab.md).
SIM_SHRINK = 20.0
# Added to the sum of the weights that meet a rated neighbour, so that a correction backed by one
# weak neighbour stays small. 1.0 is the conservative one of those tried (0.5: -0.0095, 2: -0.0061).
DENOM_SHRINK = 1.0
# Items (rows) per block of the similarity computation: bounds each dense block to ~8M cells.
_BLOCK_CELLS = 2**23


def fit_item_neighbours(
    users: np.ndarray, items: np.ndarray, residuals: np.ndarray, n_users: int, n_items: int, k: int
) -> dict[str, torch.Tensor]:
    """The buffers of ``ItemNeighbours`` from training residuals.

    ``users``/``items`` are codes (0 = unknown, skipped) below ``n_users``/``n_items``; a pair rated
    twice keeps its mean residual. Returns ``pair_keys`` (sorted ``u * n_items + i``),
    ``pair_residuals``, ``neighbour_items`` (n_items, k; 0 = none) and ``neighbour_weights``.
    """
    keep = (users > 0) & (items > 0)
    users, items = users[keep].astype(np.int64), items[keep].astype(np.int64)
    residuals = np.asarray(residuals, dtype=np.float64)[keep]
    keys, inverse, counts = np.unique(users * n_items + items, return_inverse=True, return_counts=True)
    mean = np.bincount(inverse, weights=residuals, minlength=len(keys)) / counts
    pu, pi = keys // n_items, keys % n_items
    shape = (n_items, n_users)  # items as rows: a block of items is a block of rows
    R = sparse.csr_matrix((mean, (pi, pu)), shape=shape)
    M = sparse.csr_matrix((np.ones(len(keys)), (pi, pu)), shape=shape)
    RT, MT = R.T.tocsr(), M.T.tocsr()
    norm = np.sqrt(np.asarray(R.multiply(R).sum(axis=1)).ravel()).astype(np.float32)
    norm[norm == 0] = np.inf  # an item without residual spread has no neighbours
    k_eff = max(0, min(int(k), n_items - 2))  # the known items (codes 1..) other than itself
    idx = np.zeros((n_items, k_eff), dtype=np.int64)
    wts = np.zeros((n_items, k_eff), dtype=np.float32)
    block = max(1, _BLOCK_CELLS // max(n_items, 1))
    for s in range(1, n_items, block) if k_eff else ():
        rows = np.arange(s, min(s + block, n_items))
        num = (R[rows] @ RT).toarray().astype(np.float32)  # (B, n_items): sum over co-raters of r_ui r_uj
        co = (M[rows] @ MT).toarray().astype(np.float32)  # users who rated both
        sim = num / (norm[rows, None] * norm[None, :]) * (co / (co + SIM_SHRINK))
        sim[np.arange(len(rows)), rows] = 0.0  # not its own neighbour
        sim[:, 0] = 0.0  # the unknown item
        np.maximum(sim, 0.0, out=sim)  # anti-correlated items are not neighbours
        top = np.argpartition(-sim, k_eff - 1, axis=1)[:, :k_eff]  # (B, k)
        w = np.take_along_axis(sim, top, axis=1)
        idx[rows], wts[rows] = np.where(w > 0, top, 0), w
    return {
        "pair_keys": torch.from_numpy(keys.astype(np.int64)),
        "pair_residuals": torch.from_numpy(mean.astype(np.float32)),
        "neighbour_items": torch.from_numpy(idx),
        "neighbour_weights": torch.from_numpy(wts),
    }


class ItemNeighbours(nn.Module):
    """The correction of a (user, item) score from the user's residuals on the item's neighbours.

    Buffers (sizes fixed by the constructor, so a saved model rebuilds them empty and loads them):
    ``pair_keys`` (n_pairs,) sorted ``user * n_items + item``, ``pair_residuals`` (n_pairs,),
    ``neighbour_items`` and ``neighbour_weights`` (n_items, k). With n_pairs 0 it corrects nothing.
    """

    def __init__(self, n_items: int, n_pairs: int = 0, k: int = 0):
        super().__init__()
        self.n_items = int(n_items)
        self.register_buffer("pair_keys", torch.zeros(int(n_pairs), dtype=torch.int64))
        self.register_buffer("pair_residuals", torch.zeros(int(n_pairs)))
        self.register_buffer("neighbour_items", torch.zeros(self.n_items, int(k), dtype=torch.int64))
        self.register_buffer("neighbour_weights", torch.zeros(self.n_items, int(k)))

    @property
    def config(self) -> dict[str, int]:
        return {"n_pairs": len(self.pair_keys), "k": self.neighbour_items.shape[1]}

    def set_tables(self, tables: dict[str, torch.Tensor] | None) -> None:
        """Install tables from ``fit_item_neighbours`` (None: empty them), on this module's device."""
        if tables is None:
            tables = {"pair_keys": self.pair_keys[:0], "pair_residuals": self.pair_residuals[:0],
                      "neighbour_items": self.neighbour_items[:, :0], "neighbour_weights": self.neighbour_weights[:, :0]}
        for name, value in tables.items():
            setattr(self, name, value.to(getattr(self, name)))  # buffers keep their names and dtype

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """(B,) corrections for the pairs (users[b], items[b])."""
        if not len(self.pair_keys) or not self.neighbour_items.shape[1]:
            return torch.zeros(len(users), device=users.device)
        nb = self.neighbour_items[items]  # (B, k)
        w = self.neighbour_weights[items]
        keys = users.unsqueeze(1) * self.n_items + nb
        pos = torch.searchsorted(self.pair_keys, keys).clamp_(max=len(self.pair_keys) - 1)
        hit = (self.pair_keys[pos] == keys) & (nb > 0)
        w = w * hit
        num = (w * self.pair_residuals[pos]).sum(dim=1)
        return num / (w.sum(dim=1) + DENOM_SHRINK)

    def matrix(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """(U, I) corrections for every pair, by two sparse-dense products (no (U, I, k) gather)."""
        if not len(self.pair_keys) or not self.neighbour_items.shape[1]:
            return torch.zeros(len(users), len(items), device=users.device)
        n, k = self.n_items, self.neighbour_items.shape[1]
        # The users' residual and rated-indicator rows, dense over items: a user's pairs are one
        # contiguous run of the sorted keys.
        lo = torch.searchsorted(self.pair_keys, users * n)
        hi = torch.searchsorted(self.pair_keys, (users + 1) * n)
        counts = hi - lo
        rows = torch.repeat_interleave(torch.arange(len(users), device=users.device), counts)
        starts = torch.repeat_interleave(lo - (torch.cumsum(counts, 0) - counts), counts)
        pos = starts + torch.arange(len(rows), device=users.device)
        cols = self.pair_keys[pos] % n
        resid = torch.zeros(len(users), n, device=users.device)
        rated = torch.zeros(len(users), n, device=users.device)
        resid[rows, cols] = self.pair_residuals[pos]
        rated[rows, cols] = 1.0
        # S (items x items, k per row) @ (items x U): the weighted sums over each item's neighbours.
        w = self.neighbour_weights[items]
        nb = self.neighbour_items[items]
        crow = torch.arange(0, (len(items) + 1) * k, k, device=users.device)
        with warnings.catch_warnings():  # "sparse CSR support is in beta": CSR @ dense is stable
            warnings.simplefilter("ignore", UserWarning)
            S = torch.sparse_csr_tensor(crow, nb.reshape(-1), w.reshape(-1), (len(items), n))
        num = (S @ resid.T).T  # (U, I)
        den = (S @ rated.T).T
        return num / (den + DENOM_SHRINK)
