"""Class imbalance: per-epoch index samplers, class weights and decision rules tuned on validation rows.

Buda, Maki & Mazurowski (2018) found for neural nets: oversampling the minority classes up to the
majority almost always wins; undersampling at a chosen ratio comes close and trains faster;
oversampling plus a tuned decision threshold is best; accuracy is a bad metric under imbalance.

Samplers follow the Learner's protocol: ``len(sampler)`` rows per epoch and
``sampler(generator) -> LongTensor`` of row indices into the training tensors. They draw indices
only; the data is never copied or repeated in memory.

All class arguments here are class *codes* 0..k-1 (positions in the estimator's ``classes_``).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import torch
from sklearn.utils.class_weight import compute_class_weight

from .metrics import Metric, get_metric

__all__ = [
    "OversampleSampler",
    "UndersampleSampler",
    "check_sampling",
    "check_threshold",
    "make_sampler",
    "class_weights",
    "training_priors",
    "label_metric",
    "tune_threshold",
    "tune_prior_correction",
    "decide",
]

Sampling = Literal[
    "oversample",  # every class drawn up to the majority count each epoch
    "undersample",  # every class capped at undersample_ratio x the smallest class each epoch
]


def _groups(y: Any, n_classes: int | None) -> tuple[list[torch.Tensor], int]:
    """Row indices of each class (empty tensors for absent classes) and the number of classes."""
    y = torch.as_tensor(np.asarray(y), dtype=torch.long).reshape(-1)
    if len(y) == 0:
        raise ValueError("a sampler needs at least one training row")
    if y.min() < 0:
        raise ValueError("class codes must be >= 0")
    k = int(y.max()) + 1 if n_classes is None else int(n_classes)
    order = torch.argsort(y, stable=True)
    counts = torch.bincount(y, minlength=k).tolist()
    return list(order.split(counts)), k


def _shuffle(parts: list[torch.Tensor], g: torch.Generator) -> torch.Tensor:
    idx = torch.cat(parts)
    return idx[torch.randperm(len(idx), generator=g)]


class OversampleSampler:
    """Each epoch, every class present contributes as many rows as the largest class.

    A class of ``n_c`` rows drawn up to ``M`` gets ``M // n_c`` full permutations of its rows
    plus ``M % n_c`` rows drawn without replacement from one more permutation. So every row is
    seen at least ``M // n_c`` times per epoch and repeats are spread evenly, rather than left
    to the luck of sampling with replacement. The epoch then is one shuffle of all the draws.

    ``class_counts`` holds the per-epoch count of each class (0 for classes absent from ``y``).
    """

    def __init__(self, y: Any, n_classes: int | None = None):
        self.groups, k = _groups(y, n_classes)
        target = max(len(g) for g in self.groups)
        self.class_counts = np.array([target if len(g) else 0 for g in self.groups], dtype=np.int64)
        self.n_classes = k

    def __len__(self) -> int:
        return int(self.class_counts.sum())

    def __call__(self, g: torch.Generator) -> torch.Tensor:
        parts = []
        for rows, m in zip(self.groups, self.class_counts.tolist()):
            n = len(rows)
            if n == 0:
                continue
            # ceil(m / n) permutations at once, flattened, first m kept: full passes + a partial one.
            perms = torch.rand(-(-m // n), n, generator=g).argsort(dim=1)  # (reps, n)
            parts.append(rows[perms.reshape(-1)[:m]])
        return _shuffle(parts, g)


class UndersampleSampler:
    """Each epoch, every class is capped at ``round(ratio * n_min)`` rows.

    ``n_min`` is the row count of the smallest class present, so after sampling each class holds
    at most ``ratio`` times as many rows as the smallest one: ``ratio`` is the majority:minority
    ratio after sampling (1.0 balances the classes; binary data gets exactly ``ratio``:1 unless
    the majority has fewer rows than that). Classes under the cap keep all their rows. A fresh
    subset is drawn every epoch, so over several epochs the majority rows all get used.
    """

    def __init__(self, y: Any, ratio: float = 1.0, n_classes: int | None = None):
        _check_ratio(ratio)
        self.groups, k = _groups(y, n_classes)
        n_min = min(len(g) for g in self.groups if len(g))
        cap = max(1, int(round(float(ratio) * n_min)))
        self.class_counts = np.array([min(len(g), cap) for g in self.groups], dtype=np.int64)
        self.ratio = float(ratio)
        self.n_classes = k

    def __len__(self) -> int:
        return int(self.class_counts.sum())

    def __call__(self, g: torch.Generator) -> torch.Tensor:
        parts = [
            rows[torch.randperm(len(rows), generator=g)[:m]]
            for rows, m in zip(self.groups, self.class_counts.tolist())
            if m
        ]
        return _shuffle(parts, g)


def _check_ratio(ratio: Any) -> None:
    if isinstance(ratio, bool) or not isinstance(ratio, numbers.Real) or not ratio >= 1:
        raise ValueError(
            "undersample_ratio is the majority:minority ratio after sampling and must be a "
            f"number >= 1, got {ratio!r}"
        )


def check_sampling(sampling: Any, ratio: Any) -> None:
    if sampling not in (None, "oversample", "undersample"):
        raise ValueError(f"sampling must be None, 'oversample' or 'undersample', got {sampling!r}")
    _check_ratio(ratio)


def check_threshold(threshold: Any, metric: Any) -> None:
    """Validate ``threshold`` (None, "auto" or a cut in (0, 1)) and ``threshold_metric``."""
    if not (threshold is None or threshold == "auto" or (
        isinstance(threshold, numbers.Real) and not isinstance(threshold, bool) and 0 < threshold < 1
    )):
        raise ValueError(f"threshold must be None, 'auto' or a number in (0, 1), got {threshold!r}")
    label_metric(metric)


def make_sampler(
    y: Any, sampling: Sampling | None, *, ratio: float = 1.0, n_classes: int | None = None
) -> OversampleSampler | UndersampleSampler | None:
    """The sampler for a ``sampling`` choice (``None``: plain shuffles, left to the Learner)."""
    check_sampling(sampling, ratio)
    if sampling == "oversample":
        return OversampleSampler(y, n_classes)
    if sampling == "undersample":
        return UndersampleSampler(y, ratio, n_classes)
    return None


def class_weights(spec: Any, y: Any, classes: np.ndarray) -> np.ndarray | None:
    """Per-class loss weights in ``classes`` order, from ``None``, ``"balanced"`` or ``{label: w}``.

    ``"balanced"`` is scikit-learn's ``n_samples / (n_classes * bincount(y))``; a dict leaves
    unlisted classes at weight 1 (scikit-learn's rule too).
    """
    if spec is None:
        return None
    if not (spec == "balanced" or isinstance(spec, Mapping)):
        raise ValueError(f"class_weight must be None, 'balanced' or a dict {{label: weight}}, got {spec!r}")
    if isinstance(spec, Mapping):
        bad = {k: w for k, w in spec.items() if isinstance(w, bool) or not isinstance(w, numbers.Real) or not w > 0}
        if bad:
            raise ValueError(f"class_weight values must be positive numbers, got {bad}")
        spec = dict(spec)
    present = np.isin(classes, np.asarray(y))
    w = np.ones(len(classes))
    # compute_class_weight rejects classes absent from y (possible after a validation split).
    w[present] = compute_class_weight(spec, classes=np.asarray(classes)[present], y=np.asarray(y))
    return w


def training_priors(y: Any, n_classes: int, sampler: Any = None, weights: np.ndarray | None = None) -> np.ndarray:
    """The class shares the loss saw in training: sampled per-epoch counts times class weights.

    This is the prior baked into the model's probabilities, which is what a prior correction
    must divide out (after oversampling it is already uniform).
    """
    counts = getattr(sampler, "class_counts", None)
    if counts is None:
        counts = np.bincount(np.asarray(y).reshape(-1), minlength=n_classes)
    mass = np.asarray(counts, dtype=float) * (1.0 if weights is None else np.asarray(weights, dtype=float))
    return mass / mass.sum()


def label_metric(name: Any) -> Metric:
    """A metric of hard labels (``kind == "label"``) from ``tabdl.metrics``, for decision rules."""
    m = get_metric(name)
    if m.kind != "label":
        raise ValueError(
            f"threshold_metric must be a metric of hard labels such as 'f1', 'balanced_accuracy' "
            f"or 'mcc', got {name!r}: a threshold does not change AUC-type scores"
        )
    return m


def _candidates(scores: np.ndarray, max_candidates: int) -> np.ndarray:
    """Cut points between consecutive distinct scores (capped at quantiles), so that a cut
    separates rows rather than sitting exactly on one."""
    u = np.unique(scores)
    if len(u) > max_candidates:
        u = np.unique(np.quantile(scores, np.linspace(0, 1, max_candidates)))
    return np.concatenate([[u[0]], (u[:-1] + u[1:]) / 2]) if len(u) > 1 else u


def _middle_of_best(scores: np.ndarray) -> int:
    """Index of the middle one among the equally best scores: a choice away from the plateau's edge."""
    best = np.flatnonzero(scores >= scores.max() - 1e-12)
    return int(best[len(best) // 2])


def tune_threshold(y: Any, p_pos: Any, metric: Any = "f1", *, max_candidates: int = 256) -> float:
    """The cut on P(positive) that maximises ``metric`` on the given (validation) rows.

    Rows with ``p >= threshold`` are predicted positive (code 1, i.e. ``classes_[1]``).
    Candidates are the midpoints between consecutive distinct probabilities (at most
    ``max_candidates``, by quantiles); among equally good cuts the middle one is taken.
    """
    m = label_metric(metric)
    y = np.asarray(y).reshape(-1)
    p = np.asarray(p_pos, dtype=float).reshape(-1)
    if len(y) != len(p) or len(y) == 0:
        raise ValueError("tune_threshold needs as many labels as probabilities, and at least one")
    cuts = _candidates(p, max_candidates)
    sign = 1.0 if m.greater_is_better else -1.0
    scores = np.array([sign * m.func(y, (p >= t).astype(np.int64)) for t in cuts])
    return float(cuts[_middle_of_best(scores)])


def tune_prior_correction(
    y: Any, proba: Any, priors: np.ndarray, metric: Any = "balanced_accuracy", *, powers: Any = None
) -> np.ndarray:
    """Multiclass rule: predict ``argmax(proba / priors**a)``, ``a`` in [0, 1] tuned on ``metric``.

    ``a = 0`` is plain argmax, ``a = 1`` full prior correction (the Bayes decision for equal
    class priors, which maximises balanced accuracy when the probabilities are calibrated).
    Returns the per-class scale ``priors**-a`` (normalised to mean 1) that ``decide`` multiplies in.
    """
    m = label_metric(metric)
    y = np.asarray(y).reshape(-1)
    proba = np.asarray(proba, dtype=float)
    priors = np.clip(np.asarray(priors, dtype=float), 1e-12, None)
    powers = np.linspace(0, 1, 11) if powers is None else np.asarray(powers, dtype=float)
    sign = 1.0 if m.greater_is_better else -1.0
    scales = [priors ** -a / np.mean(priors ** -a) for a in powers]
    scores = np.array([sign * m.func(y, (proba * s).argmax(axis=1)) for s in scales])
    return scales[_middle_of_best(scores)]


def decide(proba: np.ndarray, threshold: float | None = None, class_scale: np.ndarray | None = None) -> np.ndarray:
    """Class codes from probabilities: binary cut at ``threshold``, or argmax of ``proba * class_scale``."""
    proba = np.asarray(proba)
    if threshold is not None:
        return (proba[:, 1] >= threshold).astype(np.int64)
    if class_scale is not None:
        return (proba * class_scale).argmax(axis=1)
    return proba.argmax(axis=1)
