"""The pictures of the benchmark report, written as PNGs (matplotlib's Agg backend, no display).

- ``quality_bars``: tabdl vs LightGBM / random forest, one panel per task, from the quality table;
- ``training_plots``: the LR-finder curve, the raw and EWMA training losses with the validation
  loss, and a 2-D map of one column's learned embedding, from one TabularRegressor fit on diamonds.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display, also on a headless CI machine

import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

__all__ = ["quality_bars", "training_plots", "model_family", "short_label", "FAMILY_COLORS"]

DPI = 100  # with 6-10 inch figures this keeps each PNG well under 300 KB

FAMILY_COLORS = {
    "tabdl": "tab:red",
    "LightGBM": "tab:blue",
    "RandomForest": "tab:green",
    "other": "tab:gray",
}


def model_family(model: str) -> str:
    m = str(model).lower()
    if "tabdl" in m or "tabular" in m:
        return "tabdl"
    if "lightgbm" in m or "lgbm" in m:
        return "LightGBM"
    if "forest" in m or m.startswith("rf"):
        return "RandomForest"
    return "other"


def short_label(model: str) -> str:
    """A tick label short enough for a panel: family plus the encoding it was given."""
    m, fam = str(model).lower(), model_family(model)
    variant = next((v for v in ("native", "ordinal", "embedding", " ee") if v in m), "")
    variant = {"embedding": "on EE", " ee": "on EE"}.get(variant, variant)
    if fam == "LightGBM":
        return f"LightGBM {variant}".strip()
    if fam == "RandomForest":
        return f"RF {variant}".strip()
    return str(model) if len(str(model)) <= 24 else str(model)[:23] + "…"


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def quality_bars(scores: pd.DataFrame, path: Path) -> Path:
    """One horizontal bar panel per task; ``scores`` has columns task, model, metric, value."""
    tasks = list(dict.fromkeys(scores["task"]))
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.0 * len(tasks), 3.4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        rows = scores[scores["task"] == task].reset_index(drop=True)
        metric = str(rows["metric"].iloc[0])
        fams = [model_family(m) for m in rows["model"]]
        ax.barh(np.arange(len(rows)), rows["value"], color=[FAMILY_COLORS[f] for f in fams])
        ax.set_yticks(np.arange(len(rows)), [short_label(m) for m in rows["model"]], fontsize=8)
        ax.invert_yaxis()
        for i, v in enumerate(rows["value"]):
            ax.annotate(
                f"{v:.4f}",
                (v, i),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=7,
            )
        lo, hi = float(rows["value"].min()), float(rows["value"].max())
        pad = max(hi - lo, 1e-3 * max(abs(hi), 1e-9))
        # Zoom on the spread: the scores differ in the second or third digit.
        ax.set_xlim(max(lo - 1.5 * pad, 0.0), hi + 1.2 * pad)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
        better = "lower" if metric.lower() in ("rmse", "log_loss", "mae") else "higher"
        ax.set_xlabel(f"test {metric.upper()} ({better} is better)")
        ax.set_ylabel("model")
        ax.set_title(task)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for f, c in FAMILY_COLORS.items() if f != "other"]
    fig.legend(handles, [f for f in FAMILY_COLORS if f != "other"], loc="lower center", ncol=3, fontsize=8)
    fig.suptitle("tabdl vs LightGBM and random forest (same run, same split)")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def training_plots(out: Path, *, quick: bool, column: str = "clarity") -> dict[str, Path]:
    """LR finder, losses and an embedding map from one default TabularRegressor on diamonds."""
    from tabdl import TabularRegressor
    from tabdl.datasets import load

    X_train, X_test, y_train, y_test = load("diamonds", max_rows=5000 if quick else None)
    est = TabularRegressor(random_state=0, verbose=1, epochs=5 if quick else 10)
    paths = {}

    res = est.lr_find(X_train, y_train)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    res.plot(ax=ax)  # clips the exploding end of the sweep itself
    ax.set_title(f"LR finder, diamonds ({len(X_train)} training rows)")
    paths["lr_find"] = _save(fig, out / "lr_find_diamonds.png")

    est.fit(X_train, y_train)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    est.plot_losses(ax=ax)
    ax.set_title(f"Losses, diamonds: one-cycle, {len(est.history_)} epochs")
    ax.set_ylabel("MSE on standardised log(price), log scale")
    ax.set_yscale("log")
    paths["losses"] = _save(fig, out / "losses_diamonds.png")

    fig, ax = plt.subplots(figsize=(6, 4.5))
    # The exported, torch-free encoder: the same vectors the net uses, row 0 = unknown/rare.
    est.embedding_encoder().plot_embedding(column, ax=ax)
    ax.set_title(f"diamonds: learned embedding of '{column}' (PCA of its vectors)")
    ax.collections[0].set_label(f"{column} level (<unknown> = unseen/rare)")
    ax.legend(loc="best", fontsize=8)
    paths["embedding"] = _save(fig, out / f"embedding_{column}_diamonds.png")
    return paths
