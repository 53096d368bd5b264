"""Metrics, recorded per epoch and kept apart from the loss. Thin wrappers over scikit-learn.

A metric is called as ``metric(y_true, output)``:
- classification: ``y_true`` holds class codes 0..k-1, ``output`` the (n, k) probabilities;
- regression: ``y_true`` and ``output`` hold values in the target's own units.

``metric(y_true, output, sample_weight=w)`` weighs the rows (the estimators' ``sample_weight``):
the built-in metrics pass it to scikit-learn, and so does a callable that takes a
``sample_weight`` keyword; a callable without one scores the rows unweighted.
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

from .columns import as_frame, category_keys
from .guards import outside_tabdl

__all__ = [
    "Metric",
    "get_metric",
    "METRICS",
    "warn_if_accuracy_misleading",
    "warn_if_f1_scores_the_majority",
    "recall_at_k",
    "ndcg_at_k",
]

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
    # Binary label metrics only: the same score from confusion counts (arrays tp, fp, fn, tn of
    # any one shape), so a threshold search scores every cut of many bootstrap resamples at once
    # (tabdl.sampling.tune_threshold). Must equal ``func`` on the labels (tests/test_metrics.py).
    from_counts: Callable[..., np.ndarray] | None = None

    # Label metrics only: ``func`` takes ``n_classes`` (the model's, from the output's width), for
    # a score whose form depends on it rather than on the labels a part happens to hold.
    takes_n_classes: bool = False

    # ``func`` takes ``sample_weight`` (scikit-learn's keyword); False: row weights are ignored.
    takes_weights: bool = False

    def __call__(self, y_true: np.ndarray, output: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
        y_true = np.asarray(y_true)
        output = np.asarray(output)
        extra = {"sample_weight": sample_weight} if sample_weight is not None and self.takes_weights else {}
        if self.kind == "label":
            if self.takes_n_classes:
                extra["n_classes"] = output.shape[1]
            return float(self.func(y_true, output.argmax(axis=1), **extra))
        return float(self.func(y_true, output, **extra))


def _f1(y, pred, n_classes: int | None = None, sample_weight=None):
    """F1 of class 1 for a binary model, macro F1 for more classes. ``n_classes`` None: read from
    the labels. A multiclass model's validation part that holds classes 0 and 1 only is still
    scored macro (reading the labels made it the binary F1 of class 1)."""
    k = n_classes if n_classes is not None else max(y.max(), pred.max()) + 1
    return skm.f1_score(y, pred, average="binary" if k <= 2 else "macro", sample_weight=sample_weight)


def _ratio(num, den):
    """num / den, and 0 where den is 0 (scikit-learn's zero_division default for these scores)."""
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0)


def _accuracy_counts(tp, fp, fn, tn):
    return _ratio(tp + tn, tp + fp + fn + tn)


def _balanced_accuracy_counts(tp, fp, fn, tn):
    # The mean recall over the classes present in y, as scikit-learn's: with one class only, its
    # recall (halving it broke the equality with ``func`` that from_counts promises).
    pos, neg = np.asarray(tp + fn), np.asarray(tn + fp)
    return _ratio(_ratio(tp, pos) + _ratio(tn, neg), (pos > 0).astype(float) + (neg > 0))


def _f1_counts(tp, fp, fn, tn):
    return _ratio(2 * tp, 2 * tp + fp + fn)


def _mcc_counts(tp, fp, fn, tn):
    tp, fp, fn, tn = (np.asarray(v, dtype=float) for v in (tp, fp, fn, tn))
    return _ratio(tp * tn - fp * fn, np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)))


def _one_vs_rest_macro(score, y, proba, sample_weight=None):
    """Macro average of ``score`` one-vs-rest over the classes present in ``y``. A class absent
    from a validation part (a rare one) has no AUC: counted in, it made roc_auc NaN on every
    epoch and pulled pr_auc towards 0. With one class present nothing is ranked: NaN."""
    # With row weights, a class whose rows all weigh 0 is absent too.
    present = np.unique(y if sample_weight is None else np.asarray(y)[np.asarray(sample_weight) > 0])
    if len(present) < 2:
        return math.nan
    onehot = label_binarize(y, classes=np.arange(proba.shape[1]))[:, present]
    return score(onehot, proba[:, present], average="macro", sample_weight=sample_weight)


def _roc_auc(y, proba, sample_weight=None):
    if proba.shape[1] == 2:
        return skm.roc_auc_score(y, proba[:, 1], sample_weight=sample_weight)
    return _one_vs_rest_macro(skm.roc_auc_score, y, proba, sample_weight)


def _pr_auc(y, proba, sample_weight=None):
    if proba.shape[1] == 2:
        return skm.average_precision_score(y, proba[:, 1], sample_weight=sample_weight)
    return _one_vs_rest_macro(skm.average_precision_score, y, proba, sample_weight)


def _log_loss(y, proba, sample_weight=None):
    return skm.log_loss(y, proba, labels=np.arange(proba.shape[1]), sample_weight=sample_weight)


def _rmse(y, pred, sample_weight=None):
    return skm.root_mean_squared_error(y, pred, sample_weight=sample_weight)


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("accuracy", skm.accuracy_score, "label", from_counts=_accuracy_counts, takes_weights=True),
        Metric(
            "balanced_accuracy",
            skm.balanced_accuracy_score,
            "label",
            from_counts=_balanced_accuracy_counts,
            takes_weights=True,
        ),
        Metric("f1", _f1, "label", from_counts=_f1_counts, takes_n_classes=True, takes_weights=True),
        Metric("mcc", skm.matthews_corrcoef, "label", from_counts=_mcc_counts, takes_weights=True),
        Metric("roc_auc", _roc_auc, "proba", takes_weights=True),
        Metric("pr_auc", _pr_auc, "proba", takes_weights=True),
        Metric("log_loss", _log_loss, "proba", greater_is_better=False, takes_weights=True),
        Metric("rmse", _rmse, "regression", greater_is_better=False, takes_weights=True),
        Metric("mae", skm.mean_absolute_error, "regression", greater_is_better=False, takes_weights=True),
        Metric("r2", skm.r2_score, "regression", takes_weights=True),
    ]
}


def _takes_weights(func: Callable[..., Any]) -> bool:
    """Whether a callable takes scikit-learn's ``sample_weight`` keyword (named, or ``**kwargs``)."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):  # some builtins have no signature
        return False
    return any(p.name == "sample_weight" and p.kind != p.POSITIONAL_ONLY or p.kind == p.VAR_KEYWORD for p in params)


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
        return Metric(getattr(metric, "__name__", "metric"), metric, "proba", takes_weights=_takes_weights(metric))
    raise ValueError(f"metrics entries must be names or callables, got {metric!r}")


def _class_shares(y: Any, sample_weight: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """The sorted classes of ``y`` and each one's share of the rows (of their weight, with
    ``sample_weight``: the metrics in ``history_`` are weighted)."""
    classes, codes = np.unique(np.asarray(y), return_inverse=True)
    weights = None if sample_weight is None else np.asarray(sample_weight, float)
    counts = np.bincount(codes.reshape(-1), weights=weights, minlength=len(classes))
    return classes, counts / counts.sum()


def warn_if_accuracy_misleading(
    metrics: Sequence[Any] | None,
    y: Any,
    *,
    majority_share: float = 0.8,
    stacklevel: int | None = None,
    sample_weight: Any = None,
) -> None:
    """Warn when ``metrics`` asks for accuracy while one class holds most rows of ``y`` (most of
    their weight, with ``sample_weight``: the accuracy in ``history_`` is weighted).

    With a 90% majority, predicting it everywhere scores 0.9 accuracy and learns nothing.
    ``stacklevel`` counts from this function's caller; None names the first line outside tabdl.
    """
    if not metrics or not any(get_metric(m).name == "accuracy" for m in metrics):
        return
    share = _class_shares(y, sample_weight)[1].max()
    if share > majority_share:
        what = "rows" if sample_weight is None else "row weight"
        warnings.warn(
            f"metrics include 'accuracy' but the majority class holds {share:.0%} of the training "
            f"{what}: predicting it everywhere already scores {share:.2f}. Prefer "
            "'balanced_accuracy', 'f1', 'mcc', 'roc_auc' or 'pr_auc'.",
            UserWarning,
            stacklevel=outside_tabdl() if stacklevel is None else stacklevel + 1,
        )


def warn_if_f1_scores_the_majority(uses: Sequence[str], y: Any, *, sample_weight: Any = None) -> None:
    """Warn when a binary F1 (``uses``: where it is asked for) scores a class that holds over
    two thirds of the rows. F1 is that of ``classes_[1]``, the label that sorts last, as
    scikit-learn's ``pos_label=1`` on the class codes: with labels "fraud" / "ok" it is "ok"'s F1,
    high whatever the net does for the fraud rows, and a cut tuned for it predicts "ok"."""
    if not uses:
        return
    classes, shares = _class_shares(y, sample_weight)
    if len(classes) != 2:
        return  # multiclass F1 is the macro average: no class is singled out
    share = shares[1]
    if share > 2 / 3:
        labels = classes.tolist()  # Python values: 'ok', not np.str_('ok')
        warnings.warn(
            f"F1 ({' and '.join(uses)}) is that of classes_[1] = {labels[1]!r}, the larger class here "
            f"({share:.0%} of the training rows). For the F1 of {labels[0]!r}, give it the label that sorts "
            f"last (e.g. y == {labels[0]!r}), or use 'balanced_accuracy' or 'mcc', which favour neither class",
            UserWarning,
            stacklevel=outside_tabdl(),
        )


# >>> ranking metrics for recommendations (plain functions: they score a ranking, not an epoch)
def _ranked_hits(X, y, recommended, k: int, threshold: float) -> tuple[pd.Series, pd.DataFrame]:
    """Relevant held-out items per user (indexed by user key), and the hits with their 0-based rank."""
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    X = as_frame(X)
    if X.shape[1] < 2:
        raise ValueError(f"X needs a user column and an item column, got {X.shape[1]} column(s)")
    missing = {"user", "item"} - set(getattr(recommended, "columns", []))
    if missing:
        raise ValueError(f"recommended must be a DataFrame with columns user and item (missing {sorted(missing)})")
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if len(y) != len(X):
        raise ValueError(f"X and y have inconsistent numbers of samples: {len(X)} != {len(y)}")
    # Keys as the preprocessor makes them, so 7, 7.0 and "7" count as the same id.
    rel = pd.DataFrame({"u": category_keys(X.iloc[:, 0]), "i": category_keys(X.iloc[:, 1])})[y >= threshold]
    rel = rel.dropna().drop_duplicates()
    recs = pd.DataFrame({"u": category_keys(recommended["user"]), "i": category_keys(recommended["item"])})
    recs["rank"] = recs.groupby("u", sort=False).cumcount()  # rows are in rank order per user
    recs = recs[recs["rank"] < k].drop_duplicates(["u", "i"])
    n_rel = rel.groupby("u", sort=True).size()
    hits = rel.merge(recs, on=["u", "i"])
    return n_rel, hits


def recall_at_k(X, y, recommended, *, k: int = 10, threshold: float = 4.0) -> float:
    """Mean over users of (relevant held-out items in their top k) / (relevant held-out items).

    ``X`` holds held-out (user, item) pairs in its first two columns and ``y`` their ratings; an
    item is relevant when its rating is >= ``threshold``. ``recommended`` is a DataFrame with
    columns user and item, in rank order within each user, e.g. ``MatrixFactorization.recommend``
    for a list of users. Users without a relevant held-out item are skipped; users with no
    recommendations count as 0.
    """
    n_rel, hits = _ranked_hits(X, y, recommended, k, threshold)
    if len(n_rel) == 0:
        return float("nan")
    n_hit = hits.groupby("u").size().reindex(n_rel.index, fill_value=0)
    return float((n_hit / n_rel).mean())


def ndcg_at_k(X, y, recommended, *, k: int = 10, threshold: float = 4.0) -> float:
    """Mean over users of binary-relevance NDCG@k (arguments as in ``recall_at_k``).

    DCG sums 1 / log2(rank + 2) over the hits at 0-based ranks < k; the ideal DCG puts
    min(#relevant, k) hits at the top.
    """
    n_rel, hits = _ranked_hits(X, y, recommended, k, threshold)
    if len(n_rel) == 0:
        return float("nan")
    dcg = 1.0 / np.log2(hits["rank"].to_numpy() + 2.0)
    dcg = hits.assign(g=dcg).groupby("u")["g"].sum().reindex(n_rel.index, fill_value=0.0)
    discounts = np.cumsum(1.0 / np.log2(np.arange(k) + 2.0))
    ideal = discounts[np.minimum(n_rel.to_numpy(), k) - 1]
    return float((dcg.to_numpy() / ideal).mean())
