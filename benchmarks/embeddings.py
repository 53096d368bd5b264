"""Entity embeddings for forests and GBMs: RF / LightGBM on a tabdl net's embeddings (EE).

One run, one table over diamonds, churn and flights (protocol: ../shared/BENCHMARKS.md):
LightGBM with native categoricals and with ordinal codes, and the random forest on ordinal codes
(the peers, from benchmarks.quality), against the same LightGBM and forest fed the embeddings of
one TabularNet (``n_bags=1``, as the encoder fits it) at its defaults plus the encoder's
rare-category fold (``est.embedding_encoder()``: each table on its principal axes; continuous
columns pass through raw).
Then the speed of ``EntityEmbeddingEncoder.transform`` on flights' 7 categorical columns, with
scikit-learn's OrdinalEncoder on the same frame as the baseline of the same process.

``--leakage`` adds the study that chose the encoder's defaults: out-of-fold embeddings
(``fit_transform`` with cv=5) and stronger rare-category folds (min_category_count=20, 100) against
plain in-sample embeddings (min_category_count=3, the estimators' former default), scored on a validation part
carved from the training split.

    python -m benchmarks.embeddings [--quick] [--threads 1] [--leakage]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import OrdinalEncoder

from benchmarks._common import (
    add_common_args,
    fit_score,
    lightgbm_model,
    limit_threads,
    predict_for,
    print_results,
    random_forest_model,
    score,
    timer,
)
from benchmarks.quality import (
    LGBM_NATIVE,
    LGBM_ORDINAL,
    QUICK_ROWS,
    TASKS,
    _row,
    fit_baselines,
    load_task,
    tabdl_model,
)
from tabdl import EntityEmbeddingEncoder, datasets

__all__ = ["run", "evaluate", "transform_speed", "leakage_study"]

# Entity embeddings of the fastai net [200,100], fed to RF and LightGBM, as quoted in BENCHMARKS.md.
FASTAI_EE_QUOTED = {
    "diamonds": {"rf": 0.0903, "lgbm": 0.0888},
    "churn": {"rf": 0.922, "lgbm": 0.916},
    "flights": {"rf": 0.731, "lgbm": 0.755},
}
LGBM_EE = "LightGBM default on EE"
RF_EE = "RandomForest on EE (100 trees, min_samples_leaf 3)"


def _error(task: str, scores: dict[str, float]) -> float:
    return scores["rmse"] if task == "regression" else 1.0 - scores["auc"]


def _quoted(task: str, value: float) -> dict[str, float]:
    return {"rmse": value} if task == "regression" else {"auc": value, "log_loss": np.nan}


def evaluate(name: str, quick: bool = False) -> tuple[pd.DataFrame, EntityEmbeddingEncoder]:
    """Rows for one task, and the fitted encoder (reused by the speed section)."""
    d = load_task(name, quick)
    X_train, X_test, y_train, y_test = d
    rows = fit_baselines(d)
    # >>> the net whose embeddings are exported: the one EntityEmbeddingEncoder(random_state=0)
    # trains (estimator defaults, plus the encoder's rare-category fold), fitted here directly so
    # that its own test score goes in the table too. One net (n_bags=1), as the encoder fits: the
    # estimators' n_bags="auto" made it a bag (5 nets on churn) whose score and fit_s the row
    # reported, while only the first net's embeddings are exported. That first net is the
    # one-net fit, so the embeddings are the same either way.
    net = tabdl_model(d.task, d.cat_features, min_category_count=EntityEmbeddingEncoder().min_category_count, n_bags=1)
    with timer() as t:
        net.fit(X_train, y_train)
    net_s = t()
    rows.append(
        _row(
            d,
            f"tabdl net, min_category_count={net.min_category_count}, one net (the EE source)",
            {**score(d.task, y_test, predict_for(d.task, net, X_test)), "fit_s": net_s},
        )
    )
    enc = net.embedding_encoder()
    with timer() as t:
        E_train, E_test = enc.transform(X_train), enc.transform(X_test)
    encode_s = t()
    # >>> the same peers on the embeddings; fit_s = their fit + encoding, the net's fit not included
    for label, model in ((LGBM_EE, lightgbm_model(d.task)), (RF_EE, random_forest_model(d.task))):
        scores = fit_score(d.task, model, E_train, y_train, E_test, y_test)
        rows.append(_row(d, label, {**scores, "fit_s": scores["fit_s"] + encode_s}))
    best = min(r["_error"] for r in rows if r["model"] in (LGBM_NATIVE, LGBM_ORDINAL))
    for r in rows:
        r["error_ratio_vs_lgbm"] = r["_error"] / best
    if not quick:
        for kind, label in (("lgbm", "LightGBM on fastai EE"), ("rf", "RandomForest on fastai EE")):
            rows.append(
                _row(
                    d, f"{label} (QUOTED from BENCHMARKS.md, not run)", _quoted(d.task, FASTAI_EE_QUOTED[d.name][kind])
                )
            )
    df = pd.DataFrame(rows).drop(columns="_error")
    df["n_features"] = np.nan
    df.loc[df["model"].isin([LGBM_EE, RF_EE]), "n_features"] = E_train.shape[1]
    return df, enc


def transform_speed(enc: EntityEmbeddingEncoder, X: pd.DataFrame, *, min_rows: int, repeats: int = 3) -> pd.DataFrame:
    """Rows per second of ``transform`` (numpy output) on the categorical columns, best of repeats,
    against scikit-learn's OrdinalEncoder (codes only, no vectors) in the same process.

    ``remainder="drop"``: the frame keeps its continuous columns (the encoder checks the fitted
    names) but only the categorical ones are read and written.
    """
    enc = clone_fitted(enc, remainder="drop")
    cats = enc.cat_features_
    big = pd.concat([X] * int(np.ceil(min_rows / len(X))), ignore_index=True)
    big_str = big[cats].astype(str)  # OrdinalEncoder needs one type per column
    ordinal = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1).fit(big_str)
    rows = []
    for label, fn in (
        ("EntityEmbeddingEncoder.transform (numpy float32)", lambda: enc.transform(big)),
        ("sklearn OrdinalEncoder.transform (codes only)", lambda: ordinal.transform(big_str)),
    ):
        wall, cpu = np.inf, np.inf
        for _ in range(repeats):
            c0 = time.process_time()
            with timer() as t:
                out = fn()
            cpu = min(cpu, time.process_time() - c0)
            wall = min(wall, t())
        rows.append(
            {
                "method": label,
                "rows": len(big),
                "out_columns": out.shape[1],
                "rows_per_cpu_s": len(big) / cpu,
                "rows_per_wall_s": len(big) / wall,
            }
        )
    df = pd.DataFrame(rows)
    df["ratio_vs_ordinal_cpu"] = df["rows_per_cpu_s"] / df["rows_per_cpu_s"].iloc[1]
    return df


def clone_fitted(enc: EntityEmbeddingEncoder, **params: Any) -> EntityEmbeddingEncoder:
    """A copy of a fitted encoder with other (output) parameters, leaving the original as it was."""
    import copy

    return copy.copy(enc).set_params(**params)


# Rows loaded (before the protocol split) by the leakage study, quick or not: every variant fits
# a net, the out-of-fold one six, on a machine shared by several busy processes.
LEAKAGE_ROWS: dict[str, int | None] = {"diamonds": 12_000, "churn": None, "flights": 25_000}


def leakage_study() -> pd.DataFrame:
    """Validation error of RF and LightGBM on EE fitted four ways on the fit part of the training split."""
    variants: dict[str, dict[str, Any]] = {
        "in-sample (cv=None, min_category_count=3)": {"min_category_count": 3},
        "out-of-fold (cv=5, min_category_count=3)": {"min_category_count": 3, "cv": 5},
        "rare fold (min_category_count=20)": {"min_category_count": 20},
        "rare fold (min_category_count=100, the default)": {},
    }
    rows = []
    for name in TASKS:
        d = datasets.load(name, max_rows=LEAKAGE_ROWS[name])
        X_fit, X_val, y_fit, y_val = train_test_split(d.X_train, d.y_train, test_size=0.2, random_state=0)
        task = "regression" if d.task == "regression" else "classification"
        for label, params in variants.items():
            enc = EntityEmbeddingEncoder(task=task, cat_features=d.cat_features, random_state=0, **params)
            with timer() as t:
                E_fit = enc.fit_transform(X_fit, y_fit)
            enc_s = t()
            E_val = enc.transform(X_val)
            for model_label, model in (
                ("LightGBM", lightgbm_model(d.task)),
                ("RandomForest", random_forest_model(d.task)),
            ):
                s = fit_score(d.task, model, E_fit, y_fit, E_val, y_val)
                rows.append(
                    {
                        "task": name,
                        "embeddings": label,
                        "model": model_label,
                        "valid_error": _error(d.task, s),
                        "encoder_fit_s": enc_s,
                        "fit_rows": len(X_fit),
                    }
                )
    return pd.DataFrame(rows)


def run(quick: bool = False, leakage: bool = False, tasks: tuple[str, ...] = TASKS) -> list[dict]:
    parts = [evaluate(name, quick) for name in tasks]
    table = pd.concat([p[0] for p in parts], ignore_index=True)
    # Only the tasks run (--tasks churn named diamonds' and flights' subsets too).
    if quick:
        rows = {name: QUICK_ROWS.get(name) for name in tasks}
        subset = "quick: " + ", ".join(f"{k} {v:,} rows" if v else f"{k} all rows" for k, v in rows.items())
    else:
        subset = "full protocol split"
    results = [
        {
            "title": "Entity embeddings (EE) from a tabdl net fed to LightGBM and RandomForest",
            "table": table,
            "notes": (
                "error_ratio_vs_lgbm = error (RMSE, or 1 - AUC) / error of the better LightGBM column of this run "
                "(< 1 beats it). EE = the vectors of the net that EntityEmbeddingEncoder(random_state=0) trains "
                f"(estimator defaults, min_category_count={EntityEmbeddingEncoder().min_category_count}, one net: "
                "n_bags=1, whose score and fit_s the EE source row reports), each table "
                "centred and rotated onto its principal axes (axes='principal'), continuous columns passed through raw. fit_s of the EE rows = tree fit + encoding (train and test); "
                f"add the net's fit_s for the full pipeline. Rows: {subset}."
            ),
        }
    ]
    if "flights" in tasks:  # the speed section times the flights encoder
        flights_enc = parts[tasks.index("flights")][1]
        X_flights = load_task("flights", quick).X_train
        speed = transform_speed(flights_enc, X_flights, min_rows=200_000 if quick else 1_000_000)
        results.append(
            {
                "title": "EntityEmbeddingEncoder.transform speed on flights' 7 categorical columns",
                "table": speed,
                "notes": (
                    "Best of 3, numpy output, the flights training frame repeated to >= the row count shown; "
                    f"output width {int(speed['out_columns'].iloc[0])} float32 columns. Both sides run on one "
                    "thread, so CPU time is the steady clock on a shared machine; wall-clock shown too."
                ),
            }
        )
    if leakage:
        results.append(
            {
                "title": "Leakage guard: validation error of trees on EE fitted four ways",
                "table": leakage_study(),
                "notes": (
                    "error = RMSE or 1 - AUC on a validation part (20% of the training split, random_state=0); "
                    f"the test split is not used. Rows loaded per task: {LEAKAGE_ROWS}."
                ),
            }
        )
    return results


def main(argv: list[str] | None = None) -> None:
    ap = add_common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    ap.add_argument("--leakage", action="store_true", help="add the cv / rare-category study")
    ap.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    args = ap.parse_args(argv)
    limit_threads(args.threads)
    print_results(run(args.quick, leakage=args.leakage, tasks=tuple(args.tasks)))


if __name__ == "__main__":
    main()
