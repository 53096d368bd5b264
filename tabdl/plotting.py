"""Plots practitioners look at. matplotlib is imported lazily: importing tabdl never needs it."""

from __future__ import annotations

from typing import Any

import numpy as np

from .callbacks import epoch_steps

__all__ = ["plot_lr_find", "plot_losses", "plot_embedding_map"]


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    return ax


def plot_lr_find(result, ax=None):
    """Smoothed loss against the LR (log scale), with the suggestions marked."""
    ax = _axes(ax)
    ax.plot(result.lrs, result.losses, label="loss (EWMA)")
    markers = {"steepest": "o", "valley": "s", "minimum": "^"}
    for name, lr in result.suggestions.items():
        y = float(np.interp(np.log(lr), np.log(result.lrs), result.losses))
        ax.plot([lr], [y], markers.get(name, "x"), label=f"{name}: {lr:.2e}")
    ax.set_xscale("log")
    # The sweep stops once the loss explodes, and the point that stops it can be 1e6 times the
    # rest: left to autoscale, the useful part of the curve is a flat line at zero. Clip the axis
    # to the curve up to its minimum, as fastai's plot drops the sweep's last points.
    losses = np.asarray(result.losses, dtype=float)
    i_min = int(np.nanargmin(losses))
    lo, top = float(losses[i_min]), float(np.nanmax(losses[: i_min + 1]))
    span = top - lo
    if span > 0 and np.nanmax(losses) > top + 0.6 * span:
        ax.set_ylim(lo - 0.1 * span, top + 0.6 * span)
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("training loss (EWMA)")
    ax.set_title("LR finder")
    ax.legend()
    return ax


def plot_losses(recorder_losses, smooth_losses, history, ax=None):
    """Batch losses raw and smoothed, with the per-epoch validation loss when there is one."""
    ax = _axes(ax)
    steps = np.arange(1, len(recorder_losses) + 1)
    ax.plot(steps, recorder_losses, alpha=0.3, label="train (raw)")
    ax.plot(steps, smooth_losses, label="train (EWMA)")
    if history is not None and "valid_loss" in history and len(history):
        ax.plot(epoch_steps(history, len(recorder_losses)), history["valid_loss"], "o-", label="valid")
    ax.set_xlabel("batch")
    ax.set_ylabel("loss")
    ax.set_title("Training and validation loss")
    ax.legend()
    return ax


def plot_embedding_map(vectors: np.ndarray, labels: list[Any], *, title: str, ax=None, max_labels=50):
    """First two principal components of an embedding table, each point labelled."""
    from sklearn.decomposition import PCA

    ax = _axes(ax)
    vectors = np.asarray(vectors, dtype=float)
    if vectors.shape[1] >= 2 and vectors.shape[0] >= 2:
        xy = PCA(n_components=2).fit_transform(vectors)
    else:
        xy = np.column_stack([vectors[:, 0], np.zeros(len(vectors))])
    ax.scatter(xy[:, 0], xy[:, 1], s=12)
    for (x, y), lab in list(zip(xy, labels))[:max_labels]:
        ax.annotate(str(lab), (x, y), fontsize=8)
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title(title)
    return ax
