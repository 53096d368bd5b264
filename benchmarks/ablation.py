"""Ablation of the TabularNet defaults, one option at a time, on VALIDATION parts only.

Each visible task's training split is cut again (80/20, random_state=1, stratified for binary
targets); models fit on the 80 % and are scored on the 20 %. The test split is never read, so
defaults chosen from this table are not tuned on the test scores. LightGBM at defaults (native
categoricals and ordinal codes) runs on the same parts in the same process, and every row
reports its error ratio to the better of the two (RMSE, or 1 - AUC).

Usage: ``python -m benchmarks.ablation [--quick] [--tasks diamonds,churn] [--only base,plr]``.
``--quick`` subsamples rows so the whole table takes about a minute.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from benchmarks._common import (
    fit_score,
    lightgbm_model,
    native_frames,
    ordinal_frames,
    print_results,
)

TASKS = ("diamonds", "churn", "flights")
# Rows loaded per task (None = all). Flights is screened on a subsample: 2 shared CPU cores.
FULL_ROWS = {"diamonds": None, "churn": None, "flights": 60_000}
QUICK_ROWS = {"diamonds": 6_000, "churn": 2_000, "flights": 8_000}

# The core issue's default, spelled out so the table keeps meaning after the defaults change.
OLD_DEFAULT: dict[str, Any] = {
    "layers": (200, 100), "dropout": 0.1, "epochs": 10, "lr": 1e-2, "batch_size": "auto",
    "weight_decay": 0.01, "scaler": "quantile", "num_embeddings": None, "n_members": 1,
}

# Each variant changes ONE thing relative to the row it names as its base.
VARIANTS: list[tuple[str, str, dict[str, Any]]] = [
    ("old_default", "", {}),
    ("plr", "old_default", {"num_embeddings": "periodic"}),
    ("ple", "old_default", {"num_embeddings": "piecewise"}),
    ("k8", "old_default", {"n_members": 8}),
    ("epochs20", "old_default", {"epochs": 20}),
    ("bs512", "old_default", {"batch_size": 512}),
    ("wd0.1", "old_default", {"weight_decay": 0.1}),
    ("scaler_standard", "old_default", {"scaler": "standard"}),
]


def validation_parts(name: str, max_rows: int | None):
    """(fit part, validation part) of the task's TRAINING split, and the dataset card."""
    from tabdl.datasets import load

    d = load(name, max_rows=max_rows)
    strat = d.y_train if d.task == "binary" else None
    Xf, Xv, yf, yv = train_test_split(d.X_train, d.y_train, test_size=0.2, random_state=1, stratify=strat)
    return d, Xf, Xv, yf, yv


def error(task: str, scores: dict[str, float]) -> float:
    return scores["rmse"] if task == "regression" else 1.0 - scores["auc"]


def tabdl_model(task: str, params: dict[str, Any], cats, seed: int = 0):
    from tabdl import TabularClassifier, TabularRegressor

    cls = TabularRegressor if task == "regression" else TabularClassifier
    return cls(cat_features=cats, random_state=seed, **params)


def resolve(name: str, variants=VARIANTS) -> dict[str, Any]:
    table = {n: (base, change) for n, base, change in variants}
    base, change = table[name]
    return {**(resolve(base, variants) if base else dict(OLD_DEFAULT)), **change}


def run(quick: bool = False, tasks=TASKS, only: list[str] | None = None, variants=VARIANTS) -> list[dict]:
    rows = []
    for name in tasks:
        d, Xf, Xv, yf, yv = validation_parts(name, (QUICK_ROWS if quick else FULL_ROWS)[name])
        task = "regression" if d.task == "regression" else "binary"
        ref = []
        for how, frames in (("native", native_frames), ("ordinal", ordinal_frames)):
            Xa, Xb = frames(Xf, Xv, d.cat_features)
            r = fit_score(task, lightgbm_model(task), Xa, yf, Xb, yv)
            ref.append(error(task, r))
            rows.append({"task": name, "model": f"lightgbm_{how}", "change": "", **_cols(task, r), "ratio": np.nan})
        best_ref = min(ref)
        for vname, base, change in variants:
            if only and vname not in only:
                continue
            params = resolve(vname, variants)
            r = fit_score(task, tabdl_model(task, params, d.cat_features), Xf, yf, Xv, yv)
            desc = ", ".join(f"{k}={v}" for k, v in change.items()) or "(baseline)"
            rows.append({"task": name, "model": vname, "change": f"{desc} vs {base}" if base else desc,
                         **_cols(task, r), "ratio": error(task, r) / best_ref})
            print(rows[-1], file=sys.stderr, flush=True)
    table = pd.DataFrame(rows)
    notes = (
        "Validation parts: 20 % of each task's training split (random_state=1); fit on the other 80 %. "
        "ratio = error / best LightGBM error on the same part (RMSE or 1-AUC; < 1 beats LightGBM). "
        f"Rows per task: {QUICK_ROWS if quick else FULL_ROWS}."
    )
    return [{"title": "Ablation on validation parts (one option at a time)", "table": table, "notes": notes}]


def _cols(task: str, r: dict[str, float]) -> dict[str, float]:
    metric = r.get("rmse", r.get("auc"))
    return {"metric": "rmse" if task == "regression" else "auc", "score": metric, "fit_s": r["fit_s"]}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    print_results(run(a.quick, tasks=a.tasks.split(","), only=[s for s in a.only.split(",") if s] or None))
