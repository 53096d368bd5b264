"""Metrics, recorded per epoch and kept apart from the loss. Thin wrappers over scikit-learn.

A metric is called as ``metric(y_true, output)``:
- classification: ``y_true`` holds class codes 0..k-1, ``output`` the (n, k) probabilities;
- regression: ``y_true`` and ``output`` hold values in the target's own units.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

__all__ = ["Metric", "get_metric", "METRICS", "warn_if_accuracy_misleading"]

Kind = Literal[
    "label",  # needs hard labels: argmax of the probabilities
    "proba",  # needs probabilities (P(positive) for binary)
    "regression",  # needs values
]


@dataclass(frozen=True)
class Metric:
    name: str
    func: Callable[..., float]
    kind: Kind
    greater_is_better: bool = True

    def __call__(self, y_true: np.ndarray, output: np.ndarray) -> float:
        y_true = np.asarray(y_true)
        output = np.asarray(output)
        if self.kind == "label":
            return float(self.func(y_true, output.argmax(axis=1)))
        if self.kind == "proba":
            return float(self.func(y_true, output))
        return float(self.func(y_true, output))


def _f1(y, pred):
    return skm.f1_score(y, pred, average="binary" if max(y.max(), pred.max()) <= 1 else "macro")


def _roc_auc(y, proba):
    if proba.shape[1] == 2:
        return skm.roc_auc_score(y, proba[:, 1])
    return skm.roc_auc_score(y, proba, multi_class="ovr", labels=np.arange(proba.shape[1]))


def _pr_auc(y, proba):
    if proba.shape[1] == 2:
        return skm.average_precision_score(y, proba[:, 1])
    return skm.average_precision_score(label_binarize(y, classes=np.arange(proba.shape[1])), proba)


def _log_loss(y, proba):
    return skm.log_loss(y, proba, labels=np.arange(proba.shape[1]))


def _rmse(y, pred):
    return skm.root_mean_squared_error(y, pred)


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("accuracy", skm.accuracy_score, "label"),
        Metric("balanced_accuracy", skm.balanced_accuracy_score, "label"),
        Metric("f1", _f1, "label"),
        Metric("mcc", skm.matthews_corrcoef, "label"),
        Metric("roc_auc", _roc_auc, "proba"),
        Metric("pr_auc", _pr_auc, "proba"),
        Metric("log_loss", _log_loss, "proba", greater_is_better=False),
        Metric("rmse", _rmse, "regression", greater_is_better=False),
        Metric("mae", skm.mean_absolute_error, "regression", greater_is_better=False),
        Metric("r2", skm.r2_score, "regression"),
    ]
}


def get_metric(metric: Any) -> Metric:
    """A Metric from a name in METRICS, a Metric, or a callable ``f(y_true, output)``."""
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, str):
        try:
            return METRICS[metric]
        except KeyError:
            raise ValueError(f"unknown metric {metric!r}; choose from {sorted(METRICS)}") from None
    if callable(metric):
        return Metric(getattr(metric, "__name__", "metric"), metric, "proba")
    raise ValueError(f"metrics entries must be names or callables, got {metric!r}")


def warn_if_accuracy_misleading(
    metrics: Sequence[Any] | None, y: Any, *, majority_share: float = 0.8, stacklevel: int = 2
) -> None:
    """Warn when ``metrics`` asks for accuracy while one class holds most rows of ``y``.

    With a 90% majority, predicting it everywhere scores 0.9 accuracy and learns nothing.
    """
    if not metrics or not any(get_metric(m).name == "accuracy" for m in metrics):
        return
    _, counts = np.unique(np.asarray(y), return_counts=True)
    share = counts.max() / counts.sum()
    if share > majority_share:
        warnings.warn(
            f"metrics include 'accuracy' but the majority class holds {share:.0%} of the training "
            f"rows: predicting it everywhere already scores {share:.2f}. Prefer "
            "'balanced_accuracy', 'f1', 'mcc', 'roc_auc' or 'pr_auc'.",
            UserWarning,
            stacklevel=stacklevel + 1,
        )
