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

import functools
import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from torch import nn

from benchmarks._common import cli
from tabdl import datasets
from tabdl.ensemble import MemberLoss
from tabdl.estimators import TabularClassifier
from tabdl.learner import Learner, TensorData
from tabdl.modules import TabularMLP

__all__ = [
    "SpeedContext",
    "bare_loop",
    "timed",
    "fit_throughput",
    "one_row_latency",
    "batch_predict",
    "SECTIONS",
    "run",
]

BATCH_SIZE = 256
LR = 1e-2  # the estimators' default peak LR; the bare loop holds it constant


class SpeedContext:
    """Data and a fitted estimator shared by the sections, built once per run."""

    def __init__(self, quick: bool = False):
        self.quick = quick
        self.data = datasets.load("flights", max_rows=60_000 if quick else None)
        self.epochs = 1  # per timed fit: 262k rows is 1,000 steps, plenty against timer noise
        self.rounds = 2 if quick else 3  # alternations of baseline and tabdl
        self.latency_reps = 300 if quick else 2000

    def estimator(self, **params) -> TabularClassifier:
        d = self.data
        # One net (n_bags=1): every section compares one net's training or forward pass with a
        # bare loop over the same net ("auto" gives 1 on full flights, 2 on --quick's 48k rows).
        return TabularClassifier(
            **{
                "random_state": 0,
                "cat_features": d.cat_features,
                "batch_size": BATCH_SIZE,
                "validation_fraction": None,
                "epochs": self.epochs,
                "n_bags": 1,
                **params,
            }
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


def _loss() -> nn.Module:
    # The estimator's own loss: cross-entropy, averaged over the members of an ensemble net
    # (n_members > 1 outputs (B, k, n_out) in training); plain cross-entropy for one member.
    return MemberLoss(nn.CrossEntropyLoss())


def bare_loop(
    model: nn.Module,
    train: TensorData,
    epochs: int,
    *,
    lr: float = LR,
    batch_size: int = BATCH_SIZE,
    seed: int = 0,
    weight_decay: float = 0.01,
) -> nn.Module:
    """The baseline: index batches over the tensors, AdamW (torch defaults) at a constant LR."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, betas=(0.9, 0.99), eps=1e-5)
    loss_func = _loss()
    g = torch.Generator().manual_seed(seed)
    x_cat, x_cont, y = train.x_cat, train.x_cont, train.y
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(train), generator=g).split(batch_size):
            if len(idx) < 2:  # BatchNorm cannot train on one row (the learner drops it too)
                continue
            loss = loss_func(model(x_cat[idx], x_cont[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model


def _learner_fit(model: nn.Module, train: TensorData, epochs: int) -> None:
    learner = Learner(model, _loss(), batch_size=BATCH_SIZE, weight_decay=0.01, seed=0)
    learner.fit_one_cycle(train, epochs, LR)


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) for one call.

    On a machine shared with busy processes the wall clock mostly measures the wait for a core;
    the process's CPU time measures the work itself, so its ratios are the steadier ones.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def _throughput_rows(
    runs: dict[str, list[tuple[float, float]]], rows: int, labels: dict[str, str], baseline: str
) -> pd.DataFrame:
    """rows/s on CPU and wall clocks (best and median run) and the ratios to ``baseline``."""

    def rate(k: str, clock: int, agg) -> float:
        return rows / agg([r[clock] for r in runs[k]])

    out = []
    for k in runs:
        out.append(
            {
                "what": labels[k],
                "rows/CPU-s (best)": rate(k, 1, min),
                "ratio CPU (best)": rate(k, 1, min) / rate(baseline, 1, min),
                "ratio CPU (median)": rate(k, 1, statistics.median) / rate(baseline, 1, statistics.median),
                "rows/s wall (best)": rate(k, 0, min),
                "ratio wall (best)": rate(k, 0, min) / rate(baseline, 0, min),
                "ratio wall (median)": rate(k, 0, statistics.median) / rate(baseline, 0, statistics.median),
                "runs: wall s / CPU s": " ".join(f"{w:.2f}/{c:.2f}" for w, c in runs[k]),
            }
        )
    return pd.DataFrame(out)


def fit_throughput(ctx: SpeedContext) -> dict:
    """Training rows/s: bare loop vs Learner.fit_one_cycle vs the estimator's whole fit."""
    X_train, _, y_train, _ = ctx.data
    est = ctx.fitted  # warm-up fit; gives the preprocessor and the net's config
    config, train = est.model_config_, ctx.train
    runs: dict[str, list[tuple[float, float]]] = {"bare": [], "learner": [], "estimator": []}
    for _ in range(ctx.rounds):
        # Models are built outside the timing; the estimator builds its own inside fit.
        model = _new_model(config)
        runs["bare"].append(timed(lambda m=model: bare_loop(m, train, ctx.epochs)))
        model = _new_model(config)
        runs["learner"].append(timed(lambda m=model: _learner_fit(m, train, ctx.epochs)))
        runs["estimator"].append(timed(lambda: ctx.estimator().fit(X_train, y_train)))
    labels = {
        "bare": "bare torch loop (same TabularMLP, AdamW, randperm index batches)",
        "learner": "tabdl Learner.fit_one_cycle on the encoded tensors",
        "estimator": "tabdl TabularClassifier.fit end to end (preprocessor fit + encoding included)",
    }
    table = _throughput_rows(runs, len(train) * ctx.epochs, labels, "bare")
    notes = (
        f"flights train part {len(train):,} rows, batch size {BATCH_SIZE}, {ctx.epochs} epoch(s) per run, "
        f"{ctx.rounds} rounds run alternately (bare, learner, estimator); torch threads "
        f"{torch.get_num_threads()}. Net: TabularMLP{tuple(config['layers'])} with the estimator's "
        f"default config ({config.get('k', 1)} member(s), dropout {config.get('dropout')}, batchnorm "
        f"{config.get('batchnorm')}, num_embeddings {(config.get('num_embeddings') or {}).get('kind')}), "
        "the same loss on every side. No validation on either side "
        "(validation_fraction=None / valid=None). The bare loop keeps a constant LR and calls no "
        "loss.item(); the learner runs one-cycle (per-step LR and beta1 over 5 param groups), "
        "records every batch loss and checks for divergence. CPU = this process's CPU time, the "
        "steadier clock on a shared machine; wall = elapsed time. Goal: learner ratio >= 0.95."
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

    def bare(i: int) -> None:
        model.eval()
        with torch.inference_mode():
            torch.softmax(model(x_cat[i : i + 1], x_cont[i : i + 1]), dim=1)

    for i in range(min(50, n)):  # warm-up
        est.predict_proba(frames[i])
        bare(i)
    wall: dict[str, list[int]] = {"tabdl": [], "bare": []}
    cpu: dict[str, list[int]] = {"tabdl": [], "bare": []}
    for i in range(n):  # interleaved, so load spikes hit both
        for k, fn in (("tabdl", lambda: est.predict_proba(frames[i])), ("bare", lambda: bare(i))):  # noqa: B023
            w, c = time.perf_counter_ns(), time.process_time_ns()
            fn()  # called right away, inside this iteration
            wall[k].append(time.perf_counter_ns() - w)
            cpu[k].append(time.process_time_ns() - c)
    labels = {
        "tabdl": "tabdl predict_proba(one-row DataFrame)",
        "bare": "bare torch forward on one pre-encoded row (eval, inference_mode, softmax)",
    }
    rows = []
    for k in ("tabdl", "bare"):
        (w50, w95), (c50, c95) = _percentiles(wall[k]), _percentiles(cpu[k])
        rows.append({"what": labels[k], "p50 ms": w50, "p95 ms": w95, "CPU p50 ms": c50, "CPU p95 ms": c95})
    table = pd.DataFrame(rows)
    notes = (
        f"{n} different test rows, each timed once per side, interleaved; wall p50 tabdl/bare "
        f"{rows[0]['p50 ms'] / rows[1]['p50 ms']:.1f}x. Goal: tabdl p50 <= 1 ms (fastai: 8.1 ms, "
        "bare forward 0.084 ms, quoted in BENCHMARKS.md). p95 on a shared machine is mostly "
        "preemption."
    )
    return {"title": "One-row predict latency on flights", "table": table, "notes": notes}


def batch_predict(ctx: SpeedContext) -> dict:
    """predict_proba over the whole test part vs the bare forward on pre-encoded tensors."""
    est, X_test = ctx.fitted, ctx.data.X_test
    model = est.model_
    x_cat, x_cont = est.preprocessor_.transform(X_test)

    def bare() -> None:
        model.eval()
        with torch.inference_mode():
            for s in range(0, len(X_test), 65536):
                torch.softmax(model(x_cat[s : s + 65536], x_cont[s : s + 65536]), dim=1)

    runs: dict[str, list[tuple[float, float]]] = {"tabdl": [], "bare": []}
    for _ in range(3):
        runs["tabdl"].append(timed(lambda: est.predict_proba(X_test)))
        runs["bare"].append(timed(bare))
    labels = {
        "tabdl": "tabdl predict_proba(DataFrame), encoding included",
        "bare": "bare torch forward on pre-encoded tensors",
    }
    table = _throughput_rows(runs, len(X_test), labels, "bare")
    notes = (
        f"flights test part, {len(X_test):,} rows, 3 alternated runs. The gap is the encoding "
        "of the DataFrame (category lookups, quantile scaling), which the bare row skips."
    )
    return {"title": "Batch predict throughput on flights", "table": table, "notes": notes}


SECTIONS: list[Callable[[SpeedContext], dict]] = [fit_throughput, one_row_latency, batch_predict]


def run(quick: bool = False, sections: list[Callable[[SpeedContext], dict]] | None = None) -> list[dict]:
    ctx = SpeedContext(quick)
    return [section(ctx) for section in (SECTIONS if sections is None else sections)]


def main(argv: list[str] | None = None) -> None:
    cli(run, __doc__, argv)


if __name__ == "__main__":
    main()
