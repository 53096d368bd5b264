"""An item-neighbourhood correction on top of matrix factorisation (Koren 2008, "Factorization
Meets the Neighborhood"; Bell & Koren 2007, kNN on the residuals of a global model).

After the factors are trained, each training rating leaves a residual ``r_uj = y_uj - MF(u, j)``.
Items whose residuals move together across users (the cosine of their residual columns, the
norms taken over all of each item's ratings, shrunk towards 0 when few users rated both) are
neighbours. A prediction for ``(u, i)`` then adds the user's own
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
# A block whose co-rated share of cells is above this takes the dense top-k, else the sparse one.
# Movielens' blocks are 20-30% co-rated, where the dense pass was ~6x faster per block (0.05 s vs
# 0.3 s); the two cost about the same near 4%.
_DENSE_SHARE = 0.05


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
        num = R[rows] @ RT  # (B, n_items) sparse: sum over co-raters of r_ui r_uj
        co = M[rows] @ MT  # users who rated both
        top = _top_dense if num.nnz > _DENSE_SHARE * num.shape[0] * num.shape[1] else _top_sparse
        top(num, co, rows, norm, idx, wts)
    return {
        "pair_keys": torch.from_numpy(keys.astype(np.int64)),
        "pair_residuals": torch.from_numpy(mean.astype(np.float32)),
        "neighbour_items": torch.from_numpy(idx),
        "neighbour_weights": torch.from_numpy(wts),
    }


def _shrunk_cosine(num, co, norm_i, norm_j):
    """Residual cosine of items i and j, shrunk by the users who rated both (SIM_SHRINK)."""
    return num / (norm_i * norm_j) * (co / (co + SIM_SHRINK))


def _top_dense(num, co, rows, norm, idx, wts) -> None:
    """Fill ``idx``/``wts`` at ``rows`` with each row's top k by a dense pass over all items: the
    fast way when most items share raters (movielens: most cells of a block are co-rated)."""
    sim = _shrunk_cosine(
        num.toarray().astype(np.float32), co.toarray().astype(np.float32), norm[rows, None], norm[None, :]
    )
    sim[np.arange(len(rows)), rows] = 0.0  # not its own neighbour
    sim[:, 0] = 0.0  # the unknown item
    np.maximum(sim, 0.0, out=sim)  # anti-correlated items are not neighbours
    k = idx.shape[1]
    # The k best, ties at the k-th value going to the lowest item codes, best first: what the
    # sparse pass picks (argpartition broke ties its own way, so tables depended on the path).
    kth = -np.partition(-sim, k - 1, axis=1)[:, k - 1 : k]  # (B, 1)
    above = sim > kth
    tied = sim == kth
    chosen = above | tied & (np.cumsum(tied, axis=1) <= k - above.sum(axis=1, keepdims=True))
    top = np.nonzero(chosen)[1].reshape(len(rows), k)  # item order within each row
    w = np.take_along_axis(sim, top, axis=1)
    order = np.argsort(-w, axis=1, kind="stable")
    top, w = np.take_along_axis(top, order, axis=1), np.take_along_axis(w, order, axis=1)
    idx[rows], wts[rows] = np.where(w > 0, top, 0), w


def _top_sparse(num, co, rows, norm, idx, wts) -> None:
    """As ``_top_dense`` over the co-rated pairs only: with many items and sparse ratings the work
    follows the pairs, not items^2 (100,000 items, 300,000 ratings: 0.3 s; a dense pass took 41 s)."""
    num, co = num.tocsr(), co.tocsr()
    num.sort_indices()
    co.sort_indices()
    r = np.repeat(np.arange(num.shape[0]), np.diff(num.indptr))
    j = num.indices.astype(np.int64)
    # co's pattern holds num's (a sum can cancel to 0, a count cannot): align them by sorted keys.
    co_keys = np.repeat(np.arange(co.shape[0]), np.diff(co.indptr)) * num.shape[1] + co.indices
    pairs = np.searchsorted(co_keys, r * num.shape[1] + j)
    sim = _shrunk_cosine(num.data.astype(np.float32), co.data[pairs].astype(np.float32), norm[rows[r]], norm[j])
    keep = (sim > 0) & (j != rows[r]) & (j != 0)  # positive, not itself, not the unknown item
    r, j, sim = r[keep], j[keep], sim[keep]
    order = np.lexsort((-sim, r))  # by row, best first
    r, j, sim = r[order], j[order], sim[order]
    rank = np.arange(len(r)) - np.searchsorted(r, r)  # position within its row
    top = rank < idx.shape[1]
    idx[rows[r[top]], rank[top]] = j[top]
    wts[rows[r[top]], rank[top]] = sim[top]


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
        self._csr: tuple | None = None  # (weights, their version, CSR of them): see _weights_csr

    @property
    def empty(self) -> bool:
        """No tables (plain factorisation, or while the factors train): every correction is 0."""
        return not len(self.pair_keys) or not self.neighbour_items.shape[1]

    @property
    def config(self) -> dict[str, int]:
        return {"n_pairs": len(self.pair_keys), "k": self.neighbour_items.shape[1]}

    def known_pairs(self) -> tuple[torch.Tensor, np.ndarray]:
        """The (user, item) codes (n_pairs, 2) the tables hold residuals for, and those residuals."""
        keys = self.pair_keys.cpu()
        return torch.stack([keys // self.n_items, keys % self.n_items], dim=1), self.pair_residuals.cpu().numpy()

    def set_tables(self, tables: dict[str, torch.Tensor] | None) -> None:
        """Install tables from ``fit_item_neighbours`` (None: empty them), on this module's device."""
        if tables is None:  # new empty tensors: a slice would keep the old storage alive
            tables = {
                "pair_keys": self.pair_keys.new_zeros(0),
                "pair_residuals": self.pair_residuals.new_zeros(0),
                "neighbour_items": self.neighbour_items.new_zeros(self.n_items, 0),
                "neighbour_weights": self.neighbour_weights.new_zeros(self.n_items, 0),
            }
        for name, value in tables.items():
            setattr(self, name, value.to(getattr(self, name)))  # buffers keep their names and dtype
        self._csr = None

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """(B,) corrections for the pairs (users[b], items[b])."""
        if self.empty:
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
        if self.empty:
            return torch.zeros(len(users), len(items), device=users.device)
        n = self.n_items
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
        # S (items x items, k per row) @ (items x 2U): the weighted sums over each item's neighbours,
        # of the residuals and of the rated indicators, in one pass over S.
        sums = (self._weights_csr() @ torch.cat([resid, rated]).T).T[:, items]  # (2U, I)
        num, den = sums[: len(users)], sums[len(users) :]
        return num / (den + DENOM_SHRINK)

    def _weights_csr(self) -> torch.Tensor:
        """The neighbour weights as an (n_items, n_items) CSR matrix, built once per set of tables:
        recommend calls ``matrix`` once per chunk of users, and with many items each chunk holds
        few users (36,810 items: 500 users took 0.93 s when every chunk rebuilt it)."""
        w, nb = self.neighbour_weights, self.neighbour_items
        # New tables, a move to another device (new tensors) or a load in place (a new version)
        # rebuild it.
        if self._csr is None or self._csr[0] is not w or self._csr[1] != w._version:
            row = torch.arange(self.n_items, device=w.device).repeat_interleave(nb.shape[1])
            # Coalesced first: the padding slots repeat column 0 (weight 0), and a CSR kernel may
            # expect sorted, unique columns. CSR @ dense was ~80x faster than COO @ dense here.
            S = torch.sparse_coo_tensor(
                torch.stack([row, nb.reshape(-1)]), w.reshape(-1), (self.n_items, self.n_items), check_invariants=False
            ).coalesce()
            with warnings.catch_warnings():  # "sparse CSR support is in beta": CSR @ dense is stable
                warnings.simplefilter("ignore", UserWarning)
                self._csr = (w, w._version, S.to_sparse_csr())
        return self._csr[2]

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_csr": None}  # a cache: pickles and copies rebuild it
