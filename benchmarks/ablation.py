"""Ablation of the TabularNet defaults, one option at a time, on VALIDATION parts only.

Each visible task's training split is cut again (80/20, random_state=1, stratified for binary
targets); models fit on the 80 % and are scored on the 20 %. The test split is never read, so
defaults chosen from this table are not tuned on the test scores. LightGBM at defaults (native
categoricals and ordinal codes) runs on the same parts in the same process, and every row
reports its error ratio to the better of the two (RMSE, or 1 - AUC).

Usage: ``python -m benchmarks.ablation [--quick] [--threads 1] [--tasks diamonds,churn] [--only plr,c1]``;
``--final`` runs the one test-set comparison (new defaults, old default, LightGBM).
``--quick`` subsamples rows and runs a few variants, so the table takes a few minutes.
``--tasks`` and ``--only`` take comma-separated names, each checked before anything runs (an
unknown variant ran the LightGBM rows alone and exited 0; an unknown task was a bare KeyError).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from benchmarks._common import (
    add_common_args,
    fit_score,
    lightgbm_model,
    limit_threads,
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
    "layers": (200, 100),
    "dropout": 0.1,
    "emb_dropout": 0.0,
    "batchnorm": True,
    "epochs": 10,
    "lr": 1e-2,
    "batch_size": "n/16,max256",
    "weight_decay": 0.01,
    "scaler": "quantile",
    "min_category_count": 3,
    "num_embeddings": None,
    "n_members": 1,
    "average_weights": False,
    "n_bags": 1,
}
# Numerical-embedding options spelled out, so rows keep meaning if the module defaults move.
PLR = {"kind": "periodic", "d_embedding": 16, "n_frequencies": 32, "sigma": 0.1, "lite": False}
PLE = {"kind": "piecewise", "d_embedding": 16, "n_bins": 32}

# Each variant changes ONE thing relative to the row it names as its base.
VARIANTS: list[tuple[str, str, dict[str, Any]]] = [
    ("old_default", "", {}),
    ("plr", "old_default", {"num_embeddings": PLR}),
    ("ple", "old_default", {"num_embeddings": PLE}),
    ("k8", "old_default", {"n_members": 8}),
    ("epochs20", "old_default", {"epochs": 20}),
    ("bs512", "old_default", {"batch_size": 512}),
    ("wd0.1", "old_default", {"weight_decay": 0.1}),
    ("scaler_standard", "old_default", {"scaler": "standard"}),
    # Round 2: on top of the best single change of round 1 (periodic embeddings).
    ("plr_bs_n/32", "plr", {"batch_size": "n/32"}),
    ("plr_k8", "plr", {"n_members": 8}),
    ("plr_epochs20", "plr", {"epochs": 20}),
    ("plr_dropout0", "plr", {"dropout": 0.0}),
    ("plr_nobn", "plr", {"batchnorm": False}),
    ("plr_sigma0.03", "plr", {"num_embeddings": {**PLR, "sigma": 0.03}}),
    ("plr_sigma0.3", "plr", {"num_embeddings": {**PLR, "sigma": 0.3}}),
    ("plr_lr3e-3", "plr", {"lr": 3e-3}),
    ("plr_256x3", "plr", {"layers": (256, 256, 256)}),
    # Round 3: greedy chain, each row adds one change to the row before it.
    ("c1", "plr", {"batch_size": "n/32"}),
    ("c2", "c1", {"num_embeddings": {**PLR, "sigma": 0.3}}),
    ("c3", "c2", {"epochs": 20}),
    ("c4", "c3", {"batchnorm": False}),
    ("c5", "c3", {"n_members": 4}),
    ("c6", "c2", {"n_members": 4}),
    # Round 4: no BatchNorm helped flights and churn in c4; tried at 10 epochs, then + ensemble.
    ("d1", "c2", {"batchnorm": False}),
    ("d2", "d1", {"n_members": 4}),
    # Round 5 (after the full-flights follow-up): the rare-category fold relative to n.
    ("e1", "c4", {"min_category_count": "auto"}),
    ("e2", "e1", {"n_members": 2}),
    ("e2_k3", "e1", {"n_members": 3}),
    ("e2_k4", "e1", {"n_members": 4}),
    # Round 9: score, keep and return a moving average of the weights; then epochs "auto"
    # (40 for regression, 20 for classification).
    ("f_avg", "e2", {"average_weights": True}),
    ("f_auto", "f_avg", {"epochs": "auto"}),
    # Round 10: whole nets, each on its own validation cut, averaged ("auto": 5 on churn, 2 on
    # diamonds, 1 on flights); g_bag_shared: 5 nets on one shared cut (seeds differ only), the
    # row that tells the cuts' share of the gain (made by /work/exp/bag.py, see ablation.md).
    ("g_bag", "f_auto", {"n_bags": "auto"}),
    # ... then two regularisers of the category embeddings on top (churn's 51 states of ~60 rows).
    ("g_bag_mcc100", "g_bag", {"min_category_count": 100}),
    ("g_bag_embdrop", "g_bag", {"emb_dropout": 0.1}),
    # ... and the TabM-mini members inside each net of the bag.
    ("g_bag_k1", "g_bag", {"n_members": 1}),
    ("g_bag_k4", "g_bag", {"n_members": 4}),
    ("g_bag_dropout0.2", "g_bag", {"dropout": 0.2}),
    ("c3_sigma0.1", "c3", {"num_embeddings": PLR}),
    ("c3_sigma0.1_dropout0", "c3_sigma0.1", {"dropout": 0.0}),
]


# --quick runs only these (the old default, each kind of option once, and the chosen default).
QUICK_VARIANTS = ["old_default", "plr", "ple", "k8", "e2"]


def batch_size_for(spec: Any, n_fit: int, validation_fraction: float = 0.1) -> Any:
    """Resolve a batch-size rule "n/D[,maxM]": rows the net trains on / D, floored to a power
    of 2 in [16, M] (M defaults to 1024). "n/16,max256" is the core issue's "auto"."""
    if isinstance(spec, str) and spec.startswith("n/"):
        d, _, cap = spec[2:].partition(",max")
        n = n_fit * (1 - validation_fraction) / float(d)
        return int(min(int(cap or 1024), max(16, 2 ** int(np.log2(max(n, 1))))))
    return spec


def validation_parts(name: str, max_rows: int | None, split_seed: int = 1):
    """(fit part, validation part) of the task's TRAINING split, and the dataset card."""
    from tabdl.datasets import load

    d = load(name, max_rows=max_rows)
    strat = d.y_train if d.task == "binary" else None
    Xf, Xv, yf, yv = train_test_split(d.X_train, d.y_train, test_size=0.2, random_state=split_seed, stratify=strat)
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


def run(
    quick: bool = False, tasks=TASKS, only: list[str] | None = None, variants=VARIANTS, split_seeds=(1,)
) -> list[dict]:
    if quick and only is None:
        only = QUICK_VARIANTS
    unknown = [n for n in only or () if n not in {v[0] for v in variants}]
    unknown += [t for t in tasks if t not in FULL_ROWS]
    if unknown:  # (an unknown variant ran the LightGBM rows alone)
        raise ValueError(f"unknown variants or tasks: {', '.join(unknown)}")
    rows = []
    for name, seed in ((t, s) for t in tasks for s in split_seeds):
        d, Xf, Xv, yf, yv = validation_parts(name, (QUICK_ROWS if quick else FULL_ROWS)[name], seed)
        task = "regression" if d.task == "regression" else "binary"
        ref = []
        for how, frames in (("native", native_frames), ("ordinal", ordinal_frames)):
            Xa, Xb = frames(Xf, Xv, d.cat_features)
            r = fit_score(task, lightgbm_model(task), Xa, yf, Xb, yv)
            ref.append(error(task, r))
            rows.append(
                {
                    "task": name,
                    "split": seed,
                    "model": f"lightgbm_{how}",
                    "change": "",
                    **_cols(task, r),
                    "ratio": np.nan,
                }
            )
        best_ref = min(ref)
        for vname, base, change in variants:
            if only and vname not in only:
                continue
            params = resolve(vname, variants)
            params["batch_size"] = batch_size_for(params["batch_size"], len(Xf))
            r = fit_score(task, tabdl_model(task, params, d.cat_features), Xf, yf, Xv, yv)
            desc = ", ".join(f"{k}={v}" for k, v in change.items()) or "(baseline)"
            rows.append(
                {
                    "task": name,
                    "split": seed,
                    "model": vname,
                    "change": f"{desc} vs {base}" if base else desc,
                    **_cols(task, r),
                    "ratio": error(task, r) / best_ref,
                }
            )
            print(rows[-1], file=sys.stderr, flush=True)
    table = pd.DataFrame(rows)
    notes = (
        f"Validation parts: 20 % of each task's training split (random_state in {list(split_seeds)}); fit on the other 80 %. "
        "ratio = error / best LightGBM error on the same part (RMSE or 1-AUC; < 1 beats LightGBM). "
        f"Rows per task: {QUICK_ROWS if quick else FULL_ROWS}."
    )
    return [{"title": "Ablation on validation parts (one option at a time)", "table": table, "notes": notes}]


def _cols(task: str, r: dict[str, float]) -> dict[str, float]:
    metric = r.get("rmse", r.get("auc"))
    return {"metric": "rmse" if task == "regression" else "auc", "score": metric, "fit_s": r["fit_s"]}


def final(quick: bool = False, tasks=TASKS) -> list[dict]:
    """The TEST comparison, run once after the defaults were chosen: benchmarks.quality's table
    (new defaults, LightGBM native/ordinal, RF) plus the core issue's default in the same run,
    so fit times compare on the same machine state."""
    from benchmarks.quality import evaluate, load_task

    parts = []
    for name in tasks:
        df = evaluate(name, quick)
        n_fit = len(load_task(name, quick).X_train)
        old = {**OLD_DEFAULT, "batch_size": batch_size_for(OLD_DEFAULT["batch_size"], n_fit)}
        old_row = evaluate(name, quick, old, baselines=False, label="tabdl core-issue default (old)")

        def err(rows: pd.DataFrame) -> pd.Series:
            return rows["rmse"] if rows["rmse"].notna().all() else 1 - rows["auc"]

        best_err = err(df[df["model"].str.startswith("LightGBM")]).min()
        old_row["error_ratio_vs_lgbm"] = err(old_row) / best_err
        parts += [df, old_row]
    table = pd.concat(parts, ignore_index=True)
    notes = (
        "Test split of the protocol, one run. 'tabdl defaults' is the new default; the old row is "
        f"the core issue's default ({OLD_DEFAULT}) fitted in the same process."
    )
    return [
        {"title": "Quality on test: new tabdl defaults vs old default and LightGBM", "table": table, "notes": notes}
    ]


def fit_times(name: str = "flights", quick: bool = False) -> list[dict]:
    """Fit time of the old and new defaults in one process, old-new-old, on the full training split."""
    import time

    from benchmarks.quality import load_task, tabdl_model

    d = load_task(name, quick)
    old = {**OLD_DEFAULT, "batch_size": batch_size_for(OLD_DEFAULT["batch_size"], len(d.X_train))}
    rows = []
    for label, params in (("old default", old), ("new default", {}), ("old default", old)):
        start = time.perf_counter()
        tabdl_model(d.task, d.cat_features, **params).fit(d.X_train, d.y_train)
        rows.append({"task": name, "model": label, "fit_s": time.perf_counter() - start})
    return [
        {
            "title": f"Fit time on {name}: old vs new default, one process",
            "table": pd.DataFrame(rows),
            "notes": "Run order top to bottom; compare the new row with the mean of the two old rows.",
        }
    ]


def _names(known, what: str):
    """An argparse type: comma-separated names, each one of ``known``; empty parts are dropped."""

    def parse(text: str) -> list[str]:
        names = [n for n in text.split(",") if n]
        unknown = [n for n in names if n not in known]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {what}: {', '.join(unknown)} (known: {', '.join(known)})")
        return names

    return parse


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(s) for s in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated ints, got {text!r}") from None


def main(argv: list[str] | None = None) -> None:
    ap = add_common_args(
        argparse.ArgumentParser(prog="python -m benchmarks.ablation", description=__doc__.splitlines()[0])
    )
    ap.add_argument("--final", action="store_true", help="the one test-set comparison (after choosing)")
    ap.add_argument("--fit-time", action="store_true", help="old vs new default fit time on --tasks")
    ap.add_argument(
        "--tasks",
        type=_names(TASKS, "task"),
        default=list(TASKS),
        help=f"comma-separated, of {','.join(TASKS)} (default: all)",
    )
    ap.add_argument(
        "--only",
        type=_names([v[0] for v in VARIANTS], "variant"),
        default=[],
        help=f"comma-separated variant names (default: all; --quick: {','.join(QUICK_VARIANTS)})",
    )
    ap.add_argument("--split-seeds", type=_ints, default=(1,), help="comma-separated seeds of the validation split")
    a = ap.parse_args(argv)
    if not a.tasks:
        ap.error("--tasks: no task named")
    limit_threads(a.threads)
    if a.final:
        print_results(final(a.quick, a.tasks))
    elif a.fit_time:
        print_results([r for t in a.tasks for r in fit_times(t, a.quick)])
    else:
        print_results(run(a.quick, tasks=a.tasks, only=a.only or None, split_seeds=a.split_seeds))


if __name__ == "__main__":
    main()
