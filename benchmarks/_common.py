"""Pieces every benchmark shares: markdown tables, timing, and the peers' baselines.

The peers follow ../shared/BENCHMARKS.md: LightGBM at defaults with native categoricals and with
ordinal codes (both in the same process), and a random forest of 100 trees with
min_samples_leaf=3 on ordinal codes.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss, roc_auc_score, root_mean_squared_error
from sklearn.preprocessing import OrdinalEncoder

__all__ = [
    "markdown_table",
    "timer",
    "score",
    "ordinal_frames",
    "native_frames",
    "lightgbm_model",
    "random_forest_model",
    "predict_for",
    "fit_score",
    "print_results",
    "limit_threads",
    "add_common_args",
    "positive_int",
]

# The cap set by limit_threads (None: none given, each library picks its own thread count).
# Read by the models that take a thread count of their own (the random forest's n_jobs).
THREADS: int | None = None


def markdown_table(df: pd.DataFrame, floatfmt: str = ".4g") -> str:
    """A GitHub markdown table without the optional `tabulate` dependency."""

    def cell(v) -> str:
        if isinstance(v, (float, np.floating)):
            return "" if np.isnan(v) else format(float(v), floatfmt)
        return str(v)

    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


@contextmanager
def timer():
    """``with timer() as t: ...`` then ``t()`` gives the elapsed seconds."""
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


def score(task: str, y_true, pred) -> dict[str, float]:
    """The protocol metric: RMSE for regression; ROC AUC (and log loss) on P(positive) for binary."""
    if task == "regression":
        return {"rmse": float(root_mean_squared_error(y_true, pred))}
    p = np.clip(np.asarray(pred, dtype=float), 1e-7, 1 - 1e-7)
    return {"auc": float(roc_auc_score(y_true, p)), "log_loss": float(log_loss(y_true, p))}


def ordinal_frames(X_train: pd.DataFrame, X_test: pd.DataFrame, cats: Sequence[str]):
    """Categoricals as ordinal codes (unknown/missing -> -1 -> NaN), continuous columns untouched."""
    enc = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1)
    out = []
    for i, X in enumerate((X_train, X_test)):
        X = X.copy()
        if cats:
            strs = X[list(cats)].astype(str)
            codes = enc.fit_transform(strs) if i == 0 else enc.transform(strs)
            X[list(cats)] = np.where(codes < 0, np.nan, codes)
        out.append(X.astype(float))
    return out[0], out[1]


def native_frames(X_train: pd.DataFrame, X_test: pd.DataFrame, cats: Sequence[str]):
    """Categoricals as pandas category dtype with the training vocabulary, for LightGBM's native handling."""
    out = [X_train.copy(), X_test.copy()]
    for c in cats:
        levels = sorted(X_train[c].dropna().astype(str).unique())
        for X in out:
            X[c] = pd.Categorical(X[c].astype(str).where(X[c].notna()), categories=levels)
    return out[0], out[1]


def lightgbm_model(task: str, seed: int = 0):
    from lightgbm import LGBMClassifier, LGBMRegressor

    cls = LGBMRegressor if task == "regression" else LGBMClassifier
    return cls(random_state=seed, verbose=-1)


def random_forest_model(task: str, seed: int = 0):
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    cls = RandomForestRegressor if task == "regression" else RandomForestClassifier
    # n_jobs is joblib's own pool, which threadpool_limits does not reach: --threads N caps it
    # here (it was -1 whatever the cap, so --threads 1 still grew the forest on every core).
    n_jobs = -1 if THREADS is None else THREADS
    return cls(n_estimators=100, min_samples_leaf=3, n_jobs=n_jobs, random_state=seed)


def predict_for(task: str, model, X) -> np.ndarray:
    return model.predict(X) if task == "regression" else model.predict_proba(X)[:, 1]


def fit_score(task: str, model, X_train, y_train, X_test, y_test, fit: Callable | None = None) -> dict:
    """Fit, predict, score and time one model; returns the metric columns plus fit_s."""
    with timer() as t:
        (fit or model.fit)(X_train, y_train)
    return {**score(task, y_test, predict_for(task, model, X_test)), "fit_s": t()}


def print_results(results: list[dict]) -> None:
    for r in results:
        print(f"\n## {r['title']}\n")
        print(markdown_table(r["table"]))
        if r.get("notes"):
            print(f"\n{r['notes']}")


def limit_threads(n: int | None) -> None:
    """Cap torch's intra-op threads and every OpenMP/BLAS pool (LightGBM's included) at ``n``.

    On a machine shared with other busy processes, OpenMP workers that spin at barriers make a
    2-thread torch loop tens of times slower than a 1-thread one; ratios stay comparable only
    when every side runs with the same cap. The cap is kept in ``THREADS``, so the random
    forest's ``n_jobs`` (a joblib pool, not an OpenMP one) follows it too.
    """
    global THREADS
    if n is None:
        return
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"threads must be an int >= 1 or None, got {n!r}")
    THREADS = n
    import lightgbm  # noqa: F401  (load its OpenMP runtime so the limit reaches it)
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n)
    threadpool_limits(limits=n)


def positive_int(text: str) -> int:
    """An argparse type: an int >= 1 (``--threads 0`` reached torch as a bare RuntimeError)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an int, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an int >= 1, got {value}")
    return value


def add_common_args(ap: argparse.ArgumentParser) -> argparse.ArgumentParser:
    ap.add_argument("--quick", action="store_true", help="row subsets, a few minutes")
    ap.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="cap torch/OpenMP/BLAS threads and the random forest's n_jobs (default: the libraries' own choice)",
    )
    return ap


def cli(run: Callable[..., list[dict]], doc: str | None, argv: list[str] | None = None) -> None:
    """The command line a plain benchmark module shares: ``--quick``, ``--threads``, then its tables."""
    # The docstring's first paragraph, not its first line: imbalance's summary runs over two
    # lines, and --help cut it at "class weights, each with and".
    ap = argparse.ArgumentParser(description=" ".join(doc.strip().split("\n\n")[0].split()) if doc else None)
    args = add_common_args(ap).parse_args(argv)
    limit_threads(args.threads)
    print_results(run(quick=args.quick))
