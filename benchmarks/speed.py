"""Speed on flights (bs 256, the default net): training throughput, one-row latency, batch predict.

Every figure sits beside a bare torch baseline measured in the same process, and the two are run
alternately so that load from other processes on a shared machine hits both alike; the report
quotes the ratio. Training runs without a validation part (``validation_fraction=None``, and
``valid=None`` for the learner), so both sides do the same work: forward, loss, backward, AdamW.

``run`` assembles sections: each is a function ``section(ctx: SpeedContext) -> dict`` returning
``{"title", "table", "notes"}``. Add a section by appending a function to ``SECTIONS``.

    python -m benchmarks.speed [--quick]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from torch import nn

from benchmarks._common import add_common_args, limit_threads, print_results, timer
from tabdl import datasets
from tabdl.estimators import TabularClassifier
from tabdl.learner import Learner, TensorData
from tabdl.modules import TabularMLP

__all__ = ["SpeedContext", "bare_loop", "fit_throughput", "one_row_latency", "batch_predict", "SECTIONS", "run"]

BATCH_SIZE = 256
LR = 1e-2  # the estimators' default peak LR; the bare loop holds it constant


class SpeedContext:
    """Data and a fitted estimator shared by the sections, built once per run."""

    def __init__(self, quick: bool = False):
        self.quick = quick
        self.data = datasets.load("flights", max_rows=60_000 if quick else None)
        self.epochs = 1 if quick else 2  # per timed fit
        self.rounds = 2 if quick else 3  # alternations of baseline and tabdl
        self.latency_reps = 300 if quick else 2000

    def estimator(self, **params) -> TabularClassifier:
        d = self.data
        return TabularClassifier(
            **{"random_state": 0, "cat_features": d.cat_features, "batch_size": BATCH_SIZE,
               "validation_fraction": None, "epochs": self.epochs, **params}
        )

    @functools.cached_property
    def fitted(self) -> TabularClassifier:
        X_train, _, y_train, _ = self.data
        return self.estimator().fit(X_train, y_train)

    @functools.cached_property
    def train(self) -> TensorData:
        X_train, _, y_train, _ = self.data
        x_cat, x_cont = self.fitted.preprocessor_.transform(X_train)
        return TensorData(x_cat, x_cont, torch.tensor(y_train.to_numpy(), dtype=torch.int64))


def _new_model(config: dict, seed: int = 0) -> TabularMLP:
    torch.manual_seed(seed)
    return TabularMLP(**config)


def bare_loop(model: nn.Module, train: TensorData, epochs: int, *, lr: float = LR,
              batch_size: int = BATCH_SIZE, seed: int = 0, weight_decay: float = 0.01) -> float:
    """The baseline: index batches over the tensors, AdamW at a constant LR. Returns seconds."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, betas=(0.9, 0.99), eps=1e-5)
    loss_func = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(seed)
    x_cat, x_cont, y = train.x_cat, train.x_cont, train.y
    model.train()
    with timer() as t:
        for _ in range(epochs):
            for idx in torch.randperm(len(train), generator=g).split(batch_size):
                if len(idx) < 2:  # BatchNorm cannot train on one row (the learner drops it too)
                    continue
                loss = loss_func(model(x_cat[idx], x_cont[idx]), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    return t()


def _learner_fit(model: nn.Module, train: TensorData, epochs: int) -> float:
    learner = Learner(model, nn.CrossEntropyLoss(), batch_size=BATCH_SIZE, weight_decay=0.01, seed=0)
    with timer() as t:
        learner.fit_one_cycle(train, epochs, LR)
    return t()


def fit_throughput(ctx: SpeedContext) -> dict:
    """Training rows/s: bare loop vs Learner.fit_one_cycle vs the estimator's whole fit."""
    X_train, _, y_train, _ = ctx.data
    est = ctx.fitted  # warm-up fit; gives the preprocessor and the net's config
    config, train = est.model_config_, ctx.train
    rows = len(train) * ctx.epochs
    secs: dict[str, list[float]] = {"bare": [], "learner": [], "estimator": []}
    for _ in range(ctx.rounds):
        secs["bare"].append(bare_loop(_new_model(config), train, ctx.epochs))
        secs["learner"].append(_learner_fit(_new_model(config), train, ctx.epochs))
        with timer() as t:
            ctx.estimator().fit(X_train, y_train)
        secs["estimator"].append(t())
    labels = {
        "bare": "bare torch loop (same TabularMLP, AdamW, randperm index batches)",
        "learner": "tabdl Learner.fit_one_cycle on the encoded tensors",
        "estimator": "tabdl TabularClassifier.fit end to end (encoding included)",
    }
    best_bare = rows / min(secs["bare"])
    med_bare = rows / statistics.median(secs["bare"])
    table = pd.DataFrame([
        {
            "what": labels[k],
            "rows/s (best)": rows / min(v),
            "rows/s (median)": rows / statistics.median(v),
            "ratio vs bare (best)": rows / min(v) / best_bare,
            "ratio vs bare (median)": rows / statistics.median(v) / med_bare,
            "runs (s)": " ".join(f"{s:.2f}" for s in v),
        }
        for k, v in secs.items()
    ])
    notes = (
        f"flights train part {len(train):,} rows, batch size {BATCH_SIZE}, {ctx.epochs} epoch(s) per run, "
        f"{ctx.rounds} rounds run alternately (bare, learner, estimator); torch threads "
        f"{torch.get_num_threads()}. Net: TabularMLP{tuple(config['layers'])} with the estimator's "
        "default config (embeddings, dropout 0.1, batchnorm). No validation on either side "
        "(validation_fraction=None / valid=None). The bare loop keeps a constant LR and calls no "
        "loss.item(); the learner runs one-cycle (per-step LR and beta1), records every batch loss "
        "and checks for divergence. The estimator row also fits the preprocessor and encodes the frame."
    )
    return {"title": "Training throughput on flights (bs 256)", "table": table, "notes": notes}


def _percentiles(ns: list[int]) -> tuple[float, float]:
    ms = np.asarray(ns, dtype=float) / 1e6
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def one_row_latency(ctx: SpeedContext) -> dict:
    """predict_proba on a one-row DataFrame vs a bare forward pass on one pre-encoded row."""
    est, X_test = ctx.fitted, ctx.data.X_test
    n = min(ctx.latency_reps, len(X_test))
    frames = [X_test.iloc[[i]] for i in range(n)]  # built outside the timing
    x_cat, x_cont = est.preprocessor_.transform(X_test.iloc[:n])
    model = est.model_
    for i in range(min(50, n)):  # warm-up
        est.predict_proba(frames[i])
    tabdl_ns, bare_ns = [], []
    for i in range(n):  # interleaved, so load spikes hit both
        t0 = time.perf_counter_ns()
        est.predict_proba(frames[i])
        t1 = time.perf_counter_ns()
        model.eval()
        with torch.inference_mode():
            torch.softmax(model(x_cat[i : i + 1], x_cont[i : i + 1]), dim=1)
        t2 = time.perf_counter_ns()
        tabdl_ns.append(t1 - t0)
        bare_ns.append(t2 - t1)
    (tp50, tp95), (bp50, bp95) = _percentiles(tabdl_ns), _percentiles(bare_ns)
    table = pd.DataFrame([
        {"what": "tabdl predict_proba(one-row DataFrame)", "p50 ms": tp50, "p95 ms": tp95},
        {"what": "bare torch forward on one pre-encoded row (eval, inference_mode, softmax)",
         "p50 ms": bp50, "p95 ms": bp95},
    ])
    notes = (f"{n} different test rows, each timed once per side, interleaved; p50 ratio tabdl/bare "
             f"{tp50 / bp50:.1f}x. Goal: tabdl p50 <= 1 ms (fastai quoted at 8.1 ms in BENCHMARKS.md).")
    return {"title": "One-row predict latency on flights", "table": table, "notes": notes}


def batch_predict(ctx: SpeedContext) -> dict:
    """predict_proba over the whole test part vs the bare forward on pre-encoded tensors."""
    est, X_test = ctx.fitted, ctx.data.X_test
    model = est.model_
    x_cat, x_cont = est.preprocessor_.transform(X_test)
    tabdl_s, bare_s = [], []
    for _ in range(3):
        with timer() as t:
            est.predict_proba(X_test)
        tabdl_s.append(t())
        model.eval()
        with timer() as t, torch.inference_mode():
            for s in range(0, len(X_test), 65536):
                torch.softmax(model(x_cat[s : s + 65536], x_cont[s : s + 65536]), dim=1)
        bare_s.append(t())
    n = len(X_test)
    table = pd.DataFrame([
        {"what": "tabdl predict_proba(DataFrame), encoding included", "rows/s (best)": n / min(tabdl_s)},
        {"what": "bare torch forward on pre-encoded tensors", "rows/s (best)": n / min(bare_s)},
    ])
    notes = f"flights test part, {n:,} rows, best of 3 alternated runs."
    return {"title": "Batch predict throughput on flights", "table": table, "notes": notes}


SECTIONS: list[Callable[[SpeedContext], dict]] = [fit_throughput, one_row_latency, batch_predict]


def run(quick: bool = False, sections: list[Callable[[SpeedContext], dict]] | None = None) -> list[dict]:
    ctx = SpeedContext(quick)
    return [section(ctx) for section in (SECTIONS if sections is None else sections)]


def main(argv: list[str] | None = None) -> None:
    args = add_common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0])).parse_args(argv)
    limit_threads(args.threads)
    print_results(run(quick=args.quick))


if __name__ == "__main__":
    main()
