"""Collaborative filtering on movielens (dslabs, 90/10 split, random_state 0).

Rows: tabdl ``MatrixFactorization`` at its defaults (kind="dot") and with kind="nn", and Surprise
SVD (defaults; BaselineOnly too in the full run) when ``scikit-surprise`` is installed (the
``bench`` extra), all in the same process. Each gets test RMSE, fit time, and recall@10 / NDCG@10 of its
top-10 recommendations (items rated >= 4 in the test part are relevant; the items a user rated in
the training part are excluded), and ratings/s per training epoch: ratings x epochs / the seconds
of the epochs themselves (tabdl: its epochs' times in ``history_``, without the encoding and the
neighbour correction that ``fit_s`` includes; Surprise SVD: its whole fit, which is its SGD epochs
after initialising the factors). Without ``scikit-surprise`` its rows are skipped, and the notes
and a warning on stderr say so.

The throughput table then times whole ``fit`` calls, training alone and the default fit (training
+ the item-neighbour correction), beside a bare torch loop over the same module (same batch size,
AdamW, no learner), run alternately.

    python -m benchmarks.collab [--quick] [--threads N]
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np
import pandas as pd
import torch
from torch import nn

from benchmarks._common import cli, timer
from tabdl import datasets
from tabdl.collab import MatrixFactorization
from tabdl.metrics import ndcg_at_k, recall_at_k
from tabdl.modules import DotProductBias
from tabdl.optim import LazyAdamW

__all__ = ["run", "ranking_scores", "bare_loop", "collab_notes"]

K = 10
RELEVANT = 4.0  # a held-out rating >= this is a relevant item
# ratings x epochs / seconds spent in the training epochs (see the module docstring)
PER_EPOCH = "ratings/s per training epoch"
SURPRISE_MISSING = (
    "Surprise rows skipped: scikit-surprise is not installed "
    "(pip install 'tabdl[bench]', or pip install scikit-surprise)."
)


def ranking_scores(X_test: pd.DataFrame, y_test: pd.Series, recommended: pd.DataFrame) -> dict[str, float]:
    return {
        f"recall@{K}": recall_at_k(X_test, y_test, recommended, k=K, threshold=RELEVANT),
        f"ndcg@{K}": ndcg_at_k(X_test, y_test, recommended, k=K, threshold=RELEVANT),
    }


def _rmse(y, pred) -> float:
    return float(np.sqrt(np.mean((np.asarray(y, dtype=float) - np.asarray(pred, dtype=float)) ** 2)))


def _tabdl_row(name: str, params: dict, data) -> tuple[dict, MatrixFactorization]:
    X_train, X_test, y_train, y_test = data
    mf = MatrixFactorization(random_state=0, **params)
    with timer() as t:
        mf.fit(X_train, y_train)
    # The training epochs alone (no encoding, no neighbour correction): like Surprise SVD's fit.
    epoch_s = mf.history_["time"].to_numpy()
    users = X_test.iloc[:, 0].unique()
    row = {
        "model": name,
        "rmse": _rmse(y_test, mf.predict(X_test)),
        "fit_s": t(),
        PER_EPOCH: len(X_train) * len(epoch_s) / float(epoch_s.sum()),
        **ranking_scores(X_test, y_test, mf.recommend(users, k=K)),
    }
    return row, mf


def _surprise_rows(data, quick: bool) -> list[dict] | None:
    """Surprise's rows, or None (and a warning on stderr) when scikit-surprise is not installed."""
    try:
        from surprise import SVD, BaselineOnly, Dataset, Reader
    except ImportError:
        print(f"warning: benchmarks.collab: {SURPRISE_MISSING}", file=sys.stderr, flush=True)
        return None
    X_train, X_test, y_train, y_test = data
    lo, hi = float(y_train.min()), float(y_train.max())
    frame = pd.DataFrame({"u": X_train.iloc[:, 0], "i": X_train.iloc[:, 1], "r": y_train.to_numpy()})
    trainset = Dataset.load_from_df(frame, Reader(rating_scale=(lo, hi))).build_full_trainset()
    algos = [("Surprise SVD (defaults)", SVD(random_state=0))]
    if not quick:
        algos.append(("Surprise BaselineOnly (defaults)", BaselineOnly(verbose=False)))
    rows = []
    for name, algo in algos:
        with timer() as t:
            algo.fit(trainset)
        pred = [algo.predict(u, i).est for u, i in zip(X_test.iloc[:, 0], X_test.iloc[:, 1])]
        # Top-10 from the full score matrix (mu + b_u + b_i + p_u . q_i, clipped as Surprise does).
        users, inner = _known_users(trainset, X_test.iloc[:, 0].unique())
        if hasattr(algo, "pu"):  # SVD
            scores = trainset.global_mean + algo.bu[inner, None] + algo.bi[None, :] + algo.pu[inner] @ algo.qi.T
        else:  # BaselineOnly
            bu, bi = algo.compute_baselines()
            scores = trainset.global_mean + bu[inner, None] + bi[None, :]
        scores = np.clip(scores, lo, hi)
        for r, u in enumerate(inner):
            seen = [j for j, _ in trainset.ur[u]]
            scores[r, seen] = -np.inf
        top = np.argsort(-scores, axis=1, kind="stable")[:, :K]
        recs = pd.DataFrame(
            {
                "user": np.repeat(users, K),
                "item": [trainset.to_raw_iid(j) for j in top.ravel()],
            }
        )
        rows.append(
            {
                "model": name,
                "rmse": _rmse(y_test, pred),
                "fit_s": t(),
                # SVD's fit is its SGD epochs (after initialising the factors); BaselineOnly's ALS
                # has no comparable epoch.
                PER_EPOCH: len(X_train) * algo.n_epochs / t() if hasattr(algo, "n_epochs") else np.nan,
                **ranking_scores(X_test, y_test, recs),
            }
        )
    return rows


def _known_users(trainset, users) -> tuple[list, np.ndarray]:
    known, inner = [], []
    for u in users:
        try:
            inner.append(trainset.to_inner_uid(u))
        except ValueError:  # a user only in the test part: Surprise cannot rank for them
            continue
        known.append(u)
    return known, np.asarray(inner, dtype=np.int64)


def bare_loop(
    model: nn.Module, x_cat: torch.Tensor, y: torch.Tensor, *, epochs: int, batch_size: int, lr: float, seed: int = 0
) -> float:
    """The baseline: randperm index batches, MSE, a constant LR, no learner. Seconds.

    AdamW, or LazyAdamW when the module's tables give sparse gradients.
    """
    sparse = isinstance(model, DotProductBias) and model.embeds.sparse
    opt_cls = LazyAdamW if sparse else torch.optim.AdamW
    opt = opt_cls(model.parameters(), lr=lr, weight_decay=0.0, betas=(0.9, 0.99), eps=1e-5)
    g = torch.Generator().manual_seed(seed)
    x_cont = torch.zeros(len(x_cat), 0)
    model.train()
    with timer() as t:
        for _ in range(epochs):
            for idx in torch.randperm(len(x_cat), generator=g).split(batch_size):
                loss = nn.functional.mse_loss(model(x_cat[idx], x_cont[idx]), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    return t()


def _dot_config(est: MatrixFactorization, sparse: bool) -> dict:
    config = {k: v for k, v in est.model_config_.items() if k not in ("kind", "neighbours")}
    return {**config, "y_range": tuple(config["y_range"]), "sparse": sparse}


def _throughput(mf: MatrixFactorization, data, rounds: int) -> dict:
    """Training ratings/s: the estimator vs bare loops over the same module, alternated.

    Wall-clock rates depend on what else the machine runs; the CPU-time rates (ratings per
    second of this process's CPU time) much less so. Both of the estimator's rates cover its
    whole ``fit`` call (encoding, one-cycle, penalty, best-weights snapshots), divided evenly
    over the epochs: once training alone (``n_neighbors=0``), once the default fit, which adds
    the item-neighbour correction fitted after training (tabdl.neighbours). (The wall rate was
    the median epoch of ``history_`` alone, so the default fit, correction included, looked
    faster than training alone.) The bare loops' rates cover the loop (tensors encoded before).
    """
    X_train, _, y_train, _ = data
    x_cat, _ = mf.preprocessor_.transform(X_train)
    y = torch.tensor(y_train.to_numpy(), dtype=torch.float32).reshape(-1, 1)
    epochs, n = mf.epochs, len(X_train)  # the default fit, so its setup weighs as in real use
    bs = mf._batch_size(n)  # "auto" resolved as the fit resolves it
    wall: dict[str, list[float]] = {"tabdl": [], "tabdl_nb": [], "bare_lazy": [], "bare_dense": []}
    cpu: dict[str, list[float]] = {k: [] for k in wall}
    for _ in range(rounds):
        for key, k in (("tabdl", 0), ("tabdl_nb", mf.n_neighbors)):
            est = MatrixFactorization(**{**mf.get_params(), "epochs": epochs, "n_neighbors": k})
            c0 = time.process_time()
            with timer() as t:
                est.fit(X_train, y_train)
            cpu[key].append(n * epochs / (time.process_time() - c0))
            wall[key].append(n * epochs / t())
        for key, sparse in (("bare_lazy", True), ("bare_dense", False)):
            model = DotProductBias(**_dot_config(est, sparse))
            c0 = time.process_time()
            secs = bare_loop(model, x_cat, y, epochs=epochs, batch_size=bs, lr=mf.lr)
            cpu[key].append(n * epochs / (time.process_time() - c0))
            wall[key].append(n * epochs / secs)
    labels = {
        "tabdl": "tabdl MatrixFactorization.fit, training only (n_neighbors=0; Learner: one-cycle, per-rating L2, LazyAdamW)",
        "tabdl_nb": f"tabdl MatrixFactorization.fit, default (training + {mf.n_neighbors}-neighbour correction)",
        "bare_lazy": "bare torch loop, same DotProductBias, LazyAdamW, plain MSE",
        "bare_dense": "bare torch loop, same DotProductBias with dense gradients, torch AdamW",
    }
    med = statistics.median
    table = pd.DataFrame(
        [
            {
                "what": labels[k],
                "ratings x epochs per wall-second, whole fit (median)": med(wall[k]),
                "ratings x epochs per CPU-second, whole fit (median)": med(cpu[k]),
                "CPU ratio vs bare lazy": med(cpu[k]) / med(cpu["bare_lazy"]),
            }
            for k in wall
        ]
    )
    notes = (
        f"{rounds} alternated rounds of a {epochs}-epoch fit each on {n:,} ratings, batch size "
        f"{bs}, torch threads {torch.get_num_threads()}, on a machine shared with other "
        "jobs (wall-clock rates are what this process got, CPU-second rates what it would get "
        "with a core to itself). Every rate is ratings x epochs / the seconds of the whole call: "
        "for tabdl the whole MatrixFactorization.fit (encoding, the epochs, and in the default "
        f"row the {mf.n_neighbors}-neighbour correction fitted after them), for the bare loops "
        "the loop alone (the tensors are encoded beforehand). fastai collab_learner trains at 31k ratings/s (issue 4); the "
        "goal is >= 600k ratings/s on 2 cores."
    )
    return {"title": "MatrixFactorization training throughput on movielens", "table": table, "notes": notes}


def collab_notes(n_train: int, n_test: int, quick: bool, surprise_ran: bool) -> str:
    """The notes under the collab table; they speak of Surprise's rows only when it ran."""
    lines = [SURPRISE_MISSING] if not surprise_ran else []
    lines.append(
        f"dslabs/movielens, {n_train:,} training and {n_test:,} test ratings "
        f"({'quick subset' if quick else 'full'}; test_size 0.1, random_state 0). "
        f"recall@{K} / NDCG@{K}: test items rated >= {RELEVANT:g} are relevant, items rated in "
        "training are excluded, averaged over test users with a relevant item. fit_s is the "
        "whole fit call. "
        f"{PER_EPOCH} = ratings x epochs / seconds in the training epochs: for tabdl the sum of "
        "its epochs' times (history_; the training passes only, without the encoding and the "
        "neighbour correction that its fit_s includes)"
        + (
            "; for Surprise SVD its whole fit (initialising the factors, then its SGD epochs; the "
            "trainset is built before the clock starts), BaselineOnly's ALS has no comparable epoch."
            if surprise_ran
            else "."
        )
    )
    lines.append("Quoted, not run here: Surprise SVD tuned 0.877, fastai collab_learner 0.893 (BENCHMARKS.md).")
    return " ".join(lines)


def run(quick: bool = False) -> list[dict]:
    data = datasets.load("movielens", max_rows=30_000 if quick else None)
    rows = []
    row, mf = _tabdl_row("tabdl MatrixFactorization (defaults, kind='dot')", {}, data)
    rows.append(row)
    rows.append(_tabdl_row("tabdl MatrixFactorization (kind='nn')", {"kind": "nn"}, data)[0])
    surprise = _surprise_rows(data, quick)
    rows += surprise or []
    table = pd.DataFrame(rows)
    X_train, X_test, _, _ = data
    notes = collab_notes(len(X_train), len(X_test), quick, surprise_ran=surprise is not None)
    results = [{"title": "Collaborative filtering on movielens", "table": table, "notes": notes}]
    results.append(_throughput(mf, data, rounds=1 if quick else 3))
    return results


def main(argv: list[str] | None = None) -> None:
    cli(run, __doc__, argv)


if __name__ == "__main__":
    main()
