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

import math
import numbers
import warnings
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import torch
from scipy.ndimage import uniform_filter1d
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.utils.class_weight import compute_class_weight

from .guards import finite
from .losses import cross_entropy
from .metrics import METRICS, Metric, get_metric

__all__ = [
    "OversampleSampler",
    "UndersampleSampler",
    "check_sampling",
    "check_threshold",
    "make_sampler",
    "label_smoothing",
    "class_weights",
    "training_priors",
    "PriorCorrectedLoss",
    "prior_corrected_loss",
    "label_metric",
    "tune_threshold",
    "tune_prior_correction",
    "decide",
]

Sampling = Literal[
    "oversample",  # every class drawn to an equal share of an epoch of n rows
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
    """Each epoch (after ``plain_epochs`` plain ones), as many rows as ``y`` has, in equal shares
    per class present.

    With ``n`` rows and ``k`` classes present every class is drawn ``m = n // k`` times (the
    epoch drops the ``n % k < k`` rows that would unbalance it). A class of ``n_c`` rows gets
    ``m // n_c`` full permutations of its rows plus ``m % n_c``
    rows drawn without replacement from one more permutation. So a minority class is
    oversampled with its repeats spread evenly (every row seen ``m // n_c`` or one more times),
    and a majority class gives a fresh subset of ``m`` distinct rows each epoch, so all its
    rows are used over the epochs. The epoch then is one shuffle of all the draws.

    Why an epoch of ``n`` rows rather than every class drawn up to the majority count (an
    epoch of about ``k x`` the majority, 2n on binary data): sampling then trains for the same
    number of optimiser steps as plain training, and each minority row is repeated half as
    often. Up to the majority, the net memorised the repeated rows: on churn and flights-5%
    (``benchmarks/imbalance.py``) validation AUC fell below plain training.

    ``plain_epochs``: the first that many epochs (calls) draw an epoch of the same length as it
    comes, a plain shuffle of all rows, and oversampling starts after them: deferred re-sampling
    (Cao et al. 2019, "Learning Imbalanced Datasets with Label-Distribution-Aware Margin Loss").
    See ``OVERSAMPLE_DEFER`` for why. The calls are counted, so a sampler serves one training
    cycle (the estimators make one per cycle). The Learner reads ``plain_epochs_left``: those
    epochs are not candidates for the best weights, nor counted by early stopping's patience.

    ``class_counts`` holds the per-epoch count of each class (0 for classes absent from ``y``).
    """

    def __init__(self, y: Any, n_classes: int | None = None, plain_epochs: int = 0):
        self.groups, k = _groups(y, n_classes)
        present = np.array([len(g) > 0 for g in self.groups])
        self.n_rows = sum(len(g) for g in self.groups)  # the groups partition the rows 0..n-1
        self.class_counts = np.where(present, self.n_rows // int(present.sum()), 0).astype(np.int64)
        self.n_classes = k
        if isinstance(plain_epochs, bool) or not isinstance(plain_epochs, numbers.Integral) or plain_epochs < 0:
            raise ValueError(f"plain_epochs must be an int >= 0, got {plain_epochs!r}")
        self.plain_epochs = int(plain_epochs)
        self.epochs_drawn = 0

    def __len__(self) -> int:
        return int(self.class_counts.sum())

    @property
    def plain_epochs_left(self) -> int:
        """The plain epochs still to draw (the Learner's warm-up)."""
        return max(self.plain_epochs - self.epochs_drawn, 0)

    def __call__(self, g: torch.Generator) -> torch.Tensor:
        self.epochs_drawn += 1
        if self.epochs_drawn <= self.plain_epochs:
            return torch.randperm(self.n_rows, generator=g)[: len(self)]  # a plain shuffle, cut to length
        parts = []
        for rows, m in zip(self.groups, self.class_counts.tolist()):
            n = len(rows)
            if n == 0:
                continue
            # ceil(m / n) permutations at once, flattened, first m kept: full passes + a partial
            # one (for a class with more rows than m, a subset without replacement).
            perms = torch.rand(-(-m // n), n, generator=g).argsort(dim=1)  # (reps, n)
            parts.append(rows[perms.reshape(-1)[:m]])
        return _shuffle(parts, g)


# Undersampled epochs under this many rows (a few batches) leave the net barely trained (a class
# of one row capped every class at one row); the classifier warns below it when the epoch also
# drops more than half the rows (a small table that loses a few rows to balance is fine).
UNDERSAMPLE_FLOOR = 100


class UndersampleSampler:
    """Each epoch, every class is capped at ``floor(ratio * n_min)`` rows (at least 1).

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
        # floor (rounded, 1.5 x 1 row kept 2:1), of the product rounded first: 2.3 * 100 is 229.999...
        cap = max(1, math.floor(round(float(ratio) * n_min, 6)))
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


# NOTE: an oversampled minority row is drawn about majority/minority times per epoch (3.5x on
# churn), so the net memorises those rows: training loss near 0, probabilities pushed to 0 and 1.
# Its prior-corrected validation log loss then climbs from the first epochs and picks an early,
# badly ranked epoch as the best one. Smoothing the targets bounds that confidence. On churn's
# validation splits it raised the oversampled net's holdout F1, AUC and PR AUC (0.745 -> 0.777,
# 0.901 -> 0.914, 0.800 -> 0.822 at 0.05); on flights-5% it was flat within the split noise
# (F1 +0.005, AUC -0.0035): benchmarks/results/imbalance.md.
OVERSAMPLE_LABEL_SMOOTHING = 0.05


# The share of a first fit's epochs that ``sampling="oversample"`` draws plain before it
# oversamples: ``int(OVERSAMPLE_DEFER * epochs)`` of them, so 10 of 20, 1 of 3 and none of a
# one-epoch fit (OversampleSampler's plain_epochs). A continued cycle oversamples from its first
# epoch, its net having learned its features in the first fit. Why: a net oversampled from the
# start learns its features from the repeated minority rows and ranks worse than plain training
# (imbalance.md rounds 1-8); deferred, the features come from the data as it is and the last
# epochs move the decision towards the minority. On churn's 10 and flights-5%'s 6 validation
# splits it beat oversampling from the start on AUC, PR AUC, F1 and balanced accuracy alike
# (churn PR AUC 0.868 -> 0.875, flights-5% 0.106 -> 0.128: imbalance.md, round 9). The plain
# epochs are a warm-up, not candidates for the best weights: the validation loss that picks them
# is corrected for the oversampled prior (PriorCorrectedLoss), which they were not trained on, so
# the model kept is an oversampled one (the Learner holds the last plain epoch only as the
# fallback of a stop before any oversampled epoch ends). Label smoothing
# (OVERSAMPLE_LABEL_SMOOTHING) applies to the whole fit, as in the study.
OVERSAMPLE_DEFER = 0.5


def label_smoothing(sampling: Sampling | None) -> float:
    """The training loss's label smoothing for a ``sampling`` choice (only oversampling repeats rows)."""
    return OVERSAMPLE_LABEL_SMOOTHING if sampling == "oversample" else 0.0


def _check_ratio(ratio: Any) -> None:
    if isinstance(ratio, bool) or not isinstance(ratio, numbers.Real) or not (ratio >= 1 and finite(ratio)):
        raise ValueError(
            "undersample_ratio is the majority:minority ratio after sampling and must be a "
            f"finite number >= 1, got {ratio!r}"
        )


def check_sampling(sampling: Any, ratio: Any) -> None:
    if sampling not in (None, "oversample", "undersample"):
        raise ValueError(f"sampling must be None, 'oversample' or 'undersample', got {sampling!r}")
    _check_ratio(ratio)


def check_threshold(threshold: Any, metric: Any) -> None:
    """Validate ``threshold`` (None, "auto" or a cut in (0, 1)) and ``threshold_metric``."""
    if not (
        threshold is None
        or threshold == "auto"
        or (isinstance(threshold, numbers.Real) and not isinstance(threshold, bool) and 0 < threshold < 1)
    ):
        raise ValueError(f"threshold must be None, 'auto' or a number in (0, 1), got {threshold!r}")
    label_metric(metric)


def make_sampler(
    y: Any, sampling: Sampling | None, *, ratio: float = 1.0, n_classes: int | None = None, plain_epochs: int = 0
) -> OversampleSampler | UndersampleSampler | None:
    """The sampler for a ``sampling`` choice (``None``: plain shuffles, left to the Learner);
    ``plain_epochs`` defers oversampling (see OversampleSampler)."""
    check_sampling(sampling, ratio)
    if sampling == "oversample":
        return OversampleSampler(y, n_classes, plain_epochs)
    if sampling == "undersample":
        return UndersampleSampler(y, ratio, n_classes)
    return None


def class_weights(
    spec: Any,
    y: Any,
    classes: np.ndarray,
    sample_weight: Any = None,
    *,
    sampling: Sampling | None = None,
    ratio: float = 1.0,
) -> np.ndarray | None:
    """Per-class loss weights in ``classes`` order, from ``None``, ``"balanced"`` or ``{label: w}``.

    ``"balanced"`` is scikit-learn's ``n_samples / (n_classes * bincount(y))``, with the rows'
    ``sample_weight`` summed instead of counted when given (as scikit-learn's
    ``compute_class_weight`` sums them, so weighted rows balance as repeated rows would); a dict
    leaves unlisted classes at weight 1 (scikit-learn's rule too). With ``sampling`` (and its
    ``ratio``), ``"balanced"`` balances the class counts the sampler draws per epoch, as a
    scikit-learn classifier after an imbalanced-learn sampler counts the resampled rows: all 1
    after oversampling, which already balances them.
    """
    if spec is None:
        return None
    if not (spec == "balanced" or isinstance(spec, Mapping)):
        raise ValueError(f"class_weight must be None, 'balanced' or a dict {{label: weight}}, got {spec!r}")
    if isinstance(spec, Mapping):
        # Within float32's normal range: the loss holds them as float32, where inf (or 1e300,
        # which overflows to it) made every loss NaN and read as a divergence.
        f32 = np.finfo(np.float32)
        bad = {
            k: w
            for k, w in spec.items()
            if isinstance(w, bool) or not isinstance(w, numbers.Real) or not f32.tiny <= w <= f32.max
        }
        if bad:
            raise ValueError(f"class_weight values must be finite positive numbers (within float32's range), got {bad}")
        # Looked up here, not by compute_class_weight: it casts the labels with int(), so text
        # labels such as "1"/"2" missed their own keys, and it blamed a listed class for a key
        # that is no class at all. Its rule is kept: keys for classes this y lacks are fine (a
        # cross-validation fold without a rare class), unless a class is left unweighted too,
        # which reads as a misspelt label.
        labels = np.asarray(classes).tolist()
        unknown = [k for k in spec if k not in labels]
        unweighted = [c for c in labels if c not in spec]
        if unknown and unweighted:
            raise ValueError(
                f"class_weight names {unknown}, which are not classes of y, and leaves {unweighted} "
                f"unweighted (classes: {labels[:20]})"
            )
        return np.array([float(spec.get(c, 1.0)) for c in labels])
    w = np.ones(len(classes))
    if sample_weight is not None or sampling is not None:
        codes = np.searchsorted(classes, np.asarray(y))
        if sampling is None:
            mass = np.bincount(codes, weights=sample_weight, minlength=len(classes))
        else:
            # The classes as the loss sees them. Weighted by y's own counts, the minority was
            # balanced twice: undersampled 1:1 on 7% positives, the net called 79% of rows positive.
            sampler = make_sampler(codes, sampling, ratio=ratio, n_classes=len(classes))
            mass = training_priors(codes, len(classes), sampler, sample_weight=sample_weight)
        # A class of no weight (absent, or weighted 0) keeps weight 1, as an absent class does below.
        present = mass > 0
        w[present] = mass.sum() / (present.sum() * mass[present])
        return w
    present = np.isin(classes, np.asarray(y))
    # compute_class_weight rejects classes absent from y (possible after a validation split).
    w[present] = compute_class_weight(spec, classes=np.asarray(classes)[present], y=np.asarray(y))
    return w


def training_priors(
    y: Any, n_classes: int, sampler: Any = None, weights: np.ndarray | None = None, sample_weight: Any = None
) -> np.ndarray:
    """The class shares the loss saw in training: sampled per-epoch counts times class weights,
    and times each class's mean row weight when rows are weighted (``sample_weight``).

    This is the prior baked into the model's probabilities, which is what a prior correction
    must divide out (after oversampling it is already uniform). With neither a sampler nor class
    weights it is the data's own prior, the row weights' class shares when rows are weighted.
    """
    y = np.asarray(y).reshape(-1)
    counts = np.bincount(y, minlength=n_classes).astype(float)
    drawn = getattr(sampler, "class_counts", None)
    mass = counts if drawn is None else np.asarray(drawn, dtype=float)
    if sample_weight is not None:
        # A sampler draws uniformly within a class, so its rows of a class carry the class's mean weight.
        per_row = np.bincount(y, weights=np.asarray(sample_weight, dtype=float), minlength=n_classes)
        mass = mass * np.divide(per_row, counts, out=np.zeros(n_classes), where=counts > 0)
    if weights is not None:
        mass = mass * np.asarray(weights, dtype=float)
    return mass / mass.sum()


class PriorCorrectedLoss(torch.nn.Module):
    """Cross-entropy of the logits shifted by ``log(data prior / training prior)``.

    Sampling and class weights train the net on a class prior other than the data's, so its
    probabilities carry that prior. Scored as they are on an imbalanced validation part, the
    log loss mostly measures the prior shift, which grows as the net gets more confident, and
    picks the wrong best epoch. Adding the log prior ratio to the logits is Bayes' rule for a
    change of prior (Saerens et al. 2002): the loss then scores the probabilities the net
    implies for the data's own prior, as plain training's validation loss does.
    """

    def __init__(self, log_ratio: np.ndarray):
        super().__init__()
        self.register_buffer("log_ratio", torch.as_tensor(np.asarray(log_ratio), dtype=torch.float32))

    def forward(self, out: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return cross_entropy(out.float() + self.log_ratio.to(out.device), y, weight)


def prior_corrected_loss(
    y: Any, n_classes: int, sampler: Any = None, weights: np.ndarray | None = None, sample_weight: Any = None
) -> PriorCorrectedLoss | None:
    """The validation loss for a net trained on a shifted prior, or None when there is no shift
    (plain training keeps its own loss). Row weights (``sample_weight``) define the data's prior;
    they shift nothing by themselves."""
    data = training_priors(y, n_classes, sample_weight=sample_weight)
    trained = training_priors(y, n_classes, sampler, weights, sample_weight)
    if np.allclose(trained, data, rtol=0, atol=1e-9):
        return None
    present = data > 0
    log_ratio = np.zeros(n_classes)
    log_ratio[present] = np.log(data[present]) - np.log(trained[present])
    return PriorCorrectedLoss(log_ratio)


def label_metric(name: Any) -> Metric:
    """A metric of hard labels (``kind == "label"``) from ``tabdl.metrics``, for decision rules.
    A plain callable is one: ``f(y_true, y_pred)`` of class codes 0..k-1, as scikit-learn's
    ``fbeta_score`` (binary: class 1 is ``classes_[1]``), higher is better (wrap a loss as
    ``Metric(name, f, "label", greater_is_better=False)``)."""
    labels = sorted(k for k, v in METRICS.items() if v.kind == "label")
    hint = (
        f"threshold_metric must be a metric of hard labels ({', '.join(map(repr, labels))}), a callable "
        "f(y_true, y_pred) of class codes, or a label Metric"
    )
    if callable(name) and not isinstance(name, Metric):
        return Metric(
            getattr(name, "__name__", "threshold_metric"), name, "label", takes_weights=get_metric(name).takes_weights
        )
    try:
        m = get_metric(name)
    except ValueError:  # get_metric's words are about metrics= entries
        raise ValueError(f"{hint}, got {name!r}") from None
    if m.kind != "label":
        raise ValueError(f"{hint}, got {name!r}: a threshold does not change AUC-type scores")
    return m


def _candidates(scores: np.ndarray, max_candidates: int) -> np.ndarray:
    """Cut points between consecutive distinct scores (capped at quantiles), so that a cut
    separates rows rather than sitting exactly on one."""
    u = np.unique(scores)
    if len(u) > max_candidates:
        u = np.unique(np.quantile(scores, np.linspace(0, 1, max_candidates)))
    return np.concatenate([[u[0]], (u[:-1] + u[1:]) / 2]) if len(u) > 1 else u


def _scored(scores: Any, m: Metric) -> np.ndarray:
    """A metric's scores of the candidate rules, refused when one is NaN: NaN compares false
    with every score, so no rule was the best and the search failed with a bare IndexError
    once the whole fit was done."""
    scores = np.asarray(scores, dtype=float)
    if np.isnan(scores).any():
        raise ValueError(
            f"threshold_metric {m.name!r} returned NaN for {int(np.isnan(scores).sum())} of {len(scores)} candidate "
            "decision rules: it must return a number for every rule (scikit-learn's scores: zero_division=0)"
        )
    return scores


def _middle_of_best(scores: np.ndarray) -> int:
    """Index of the middle one among the equally best scores: a choice away from the plateau's edge."""
    best = np.flatnonzero(scores >= scores.max() - 1e-12)
    return int(best[len(best) // 2])


def _pick(cuts: np.ndarray, scores: np.ndarray, smooth: float) -> float:
    """The cut a metric curve (``scores`` per cut, greater is better) points to.

    The metric is averaged over a moving window of neighbouring cuts, ``smooth`` (a fraction) of
    the candidates wide; its maximum marks the region, and the best raw cut within half a window
    of it is taken (among equally good cuts, the middle one).
    """
    window = int(round(smooth * len(cuts))) | 1  # odd, so the window is centred
    # The smoothed curve picks the region (a broad plateau beats a lone spike); the raw metric
    # then picks the cut inside it. Why not the smoothed peak itself: it counts cut positions,
    # not probability distance, so a clean gap between the classes (one position wide) looks
    # like a spike, and the average, which falls more slowly on the side of false positives,
    # would move the cut in among the negatives.
    peak, half = _middle_of_best(uniform_filter1d(scores, window, mode="nearest")), window // 2
    lo = max(0, peak - half)
    return float(cuts[lo + _middle_of_best(scores[lo : peak + half + 1])])


def _counts_per_cut(cell_pos: np.ndarray, cell_neg: np.ndarray) -> tuple[np.ndarray, ...]:
    """tp, fp, fn, tn at each cut from the label counts per cell (rows between consecutive cuts).

    Cell ``k`` holds the rows that ``k`` cuts lie at or below, so a row of cell ``k`` is predicted
    positive by cuts ``0..k-1``: cut ``i`` predicts positive the cells after ``i``.
    """
    tp = np.cumsum(cell_pos[..., ::-1], axis=-1)[..., ::-1][..., 1:]
    fp = np.cumsum(cell_neg[..., ::-1], axis=-1)[..., ::-1][..., 1:]
    return tp, fp, cell_pos.sum(-1, keepdims=True) - tp, cell_neg.sum(-1, keepdims=True) - fp


def _platt(z: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> tuple[float, float] | None:
    """Platt scaling: ``(a, b)`` of ``P(y=1) = sigmoid(a * z + b)`` for scores ``z`` (logits),
    fitted by log loss; None when the fit does not converge.

    The targets are Platt's (1999) smoothed ones, ``(n1 + 1) / (n1 + 2)`` and ``1 / (n0 + 2)``,
    so that validation rows that one cut separates still give a finite slope. The fit runs on
    standardised scores: an under-confident net's scores can all sit within 1e-4 of each other,
    where the optimiser stopped at the starting slope and the cut labelled every row positive.
    Row weights ``w`` (of mean 1) weigh the log loss and the class counts of the targets.
    """
    mu, sd = float(z.mean()), float(z.std())
    u = (z - mu) / sd if sd > 0 else z - mu
    n1 = float(y.sum()) if w is None else float(w[y == 1].sum())
    n0 = len(y) - n1 if w is None else float(w[y != 1].sum())
    t = np.where(y == 1, (n1 + 1) / (n1 + 2), 1 / (n0 + 2))

    def mean(v):
        return np.mean(v) if w is None else np.average(v, weights=w)

    def loss(ab):
        s = ab[0] * u + ab[1]
        r = expit(s) - t
        return mean(np.logaddexp(0.0, s) - t * s), np.array([mean(r * u), mean(r)])

    fit = minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
    if not fit.success or not np.all(np.isfinite(fit.x)):
        return None
    a, b = fit.x
    a = a / sd if sd > 0 else 0.0  # back to the scale of z: a * (z - mu) / sd + b
    return float(a), float(b - a * mu)


def _cells(p: np.ndarray, cuts: np.ndarray) -> tuple[np.ndarray, int]:
    """Each row's cell (how many cuts lie at or below its score) and the number of cells."""
    return np.searchsorted(cuts, p, side="right"), len(cuts) + 1


def tune_threshold(
    y: Any,
    p_pos: Any,
    metric: Any = "f1",
    *,
    method: Literal["calibrated", "empirical"] = "calibrated",
    max_candidates: int = 256,
    smooth: float = 0.1,
    n_bootstrap: int = 64,
    random_state: int = 0,
    sample_weight: Any = None,
) -> float:
    """The cut on P(positive) that maximises ``metric`` on the given (validation) rows, weighted by
    ``sample_weight`` when given (the Platt fit, the counts and the resamples all weigh the rows,
    and ``from_counts`` sees weighted counts; a metric without ``from_counts`` that does not take
    weights, such as a plain callable, scores them unweighted). With weights the candidates
    are still the unweighted quantiles once there are more than ``max_candidates`` scores, so a
    weighted cut equals the cut of the rows repeated exactly only below that, and only for
    ``method="empirical"``: the calibrated method's Platt targets are smoothed by the number of
    rows (weights are scaled, so their absolute size is not known here).

    Rows with ``p >= threshold`` are predicted positive (code 1, i.e. ``classes_[1]``).
    Candidates are the midpoints between consecutive distinct probabilities.

    ``method="calibrated"`` (the default, for metrics with ``from_counts``): Platt-scale the
    probabilities on these rows (``_platt``: two parameters fitted by log loss), and take the cut
    that maximises the metric of the *expected* confusion counts, each row counting as ``q``
    positive and ``1 - q`` negative by its calibrated probability ``q``. The labels enter only
    through the two Platt parameters, so the cut does not chase the few minority rows of a small
    validation part. For F1 this is the plug-in form of Lipton et al.'s (2014) rule that the
    F1-optimal cut of calibrated probabilities is half the best F1; for balanced accuracy, of
    the Bayes cut at the class prior. ``p_pos`` must then be probabilities in [0, 1] (other
    scores, such as margins: ``method="empirical"``). Why: on churn's 10 and flights-5%'s 6
    validation splits it beat the bagged empirical cut below on holdout F1 and MCC for plain,
    oversampled and deferred-oversampled nets alike (F1 +0.002 to +0.022), and on balanced
    accuracy by +0.0025 on average, better in 3 of 6 (benchmarks/results/imbalance.md, round 9).
    It falls back to the empirical cut when the rows hold one class, when the Platt fit does not
    converge, or when its slope is not positive (higher scores are not more often positive on
    these rows).

    ``method="empirical"``: the metric of the rows' own labels. ``max_candidates``, ``smooth``,
    ``n_bootstrap`` and ``random_state`` apply to this method only. Each metric curve over the
    candidates (at most ``max_candidates``, by quantiles) is read through a moving average
    ``smooth`` of the candidates wide (``_pick``; ``smooth=0`` takes the raw maximum), and the
    cut is bagged: the median of the cuts picked on ``n_bootstrap`` bootstrap resamples of the
    rows (``0``: the cut picked on the rows themselves), a steadier estimate than the jagged
    curve's best cut. A resample is drawn as multinomial counts over (cut interval, class) cells,
    which is exactly the row bootstrap seen through the candidates, so it costs O(candidates)
    whatever the number of rows. Metrics without ``from_counts`` (custom ones) always take this
    path, unbagged.
    """
    m = label_metric(metric)
    if method not in ("calibrated", "empirical"):
        raise ValueError(f"method must be 'calibrated' or 'empirical', got {method!r}")
    if isinstance(smooth, bool) or not isinstance(smooth, numbers.Real) or not 0 <= smooth < 1:
        raise ValueError(f"smooth must be a fraction in [0, 1), got {smooth!r}")
    if isinstance(max_candidates, bool) or not isinstance(max_candidates, numbers.Integral) or max_candidates < 2:
        raise ValueError(f"max_candidates must be an int >= 2, got {max_candidates!r}")
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, numbers.Integral) or n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be an int >= 0, got {n_bootstrap!r}")
    y = np.asarray(y).reshape(-1)
    p = np.asarray(p_pos, dtype=float).reshape(-1)
    if len(y) != len(p) or len(y) == 0:
        raise ValueError("tune_threshold needs as many labels as probabilities, and at least one")
    # The counts below read y == 1 as positive and everything else as negative, and sort NaN
    # above every cut while ``decide`` predicts it negative: either slip gave a cut silently
    # (string labels scored as all negative; a NaN threshold that predicts nothing positive).
    if not np.isin(y, (0, 1)).all():
        raise ValueError(
            f"tune_threshold needs y as class codes 0/1 (1 = positive), got values {np.unique(y.astype(str))[:5]}"
        )
    if not np.isfinite(p).all():
        raise ValueError(
            f"p_pos holds {int((~np.isfinite(p)).sum())} NaN or infinite value(s): a threshold needs finite scores"
        )
    w = None
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=float).reshape(-1)
        if len(w) != len(y) or not np.isfinite(w).all() or (w < 0).any() or not w.any():
            raise ValueError("sample_weight must hold one finite weight >= 0 per row, not all 0")
        y, p, w = y[w > 0], p[w > 0], w[w > 0]  # a row of weight 0 is no row: no cut, no count
        w = w / w.max()
        w = w / w.mean()  # counts in rows: Platt's smoothed targets add one row to each class
    sign = 1.0 if m.greater_is_better else -1.0
    if method == "calibrated" and m.from_counts is not None:
        if p.min() < 0 or p.max() > 1:
            raise ValueError(
                "method='calibrated' needs p_pos as probabilities in [0, 1] (it calibrates their "
                f"logits), got values in [{p.min():.4g}, {p.max():.4g}]; use method='empirical' for other scores"
            )
        cut = _calibrated_cut(y, p, m, sign, w)
        if cut is not None:
            return cut
    cuts = _candidates(p, max_candidates)
    if m.from_counts is None:
        extra = {"sample_weight": w} if w is not None and m.takes_weights else {}
        scores = _scored([sign * m.func(y, (p >= t).astype(np.int64), **extra) for t in cuts], m)
        return _pick(cuts, scores, smooth)
    cell, k = _cells(p, cuts)
    pos, neg = y == 1, y == 0
    cells = np.concatenate(
        [
            np.bincount(cell[pos], None if w is None else w[pos], minlength=k),
            np.bincount(cell[neg], None if w is None else w[neg], minlength=k),
        ]
    )
    draws = cells[None]  # the rows themselves, unless resamples holding both classes replace them
    if n_bootstrap and cells[:k].sum() and cells[k:].sum():
        rng = np.random.default_rng(random_state)
        # Weighted rows: each resampled row drawn in proportion to its weight.
        resampled = rng.multinomial(len(y), cells / (len(y) if w is None else cells.sum()), size=n_bootstrap)
        resampled = resampled[(resampled[:, :k].sum(1) > 0) & (resampled[:, k:].sum(1) > 0)]
        draws = resampled if len(resampled) else draws
    curves = sign * m.from_counts(*_counts_per_cut(draws[:, :k].astype(float), draws[:, k:].astype(float)))
    return float(np.median([_pick(cuts, c, smooth) for c in curves]))


def _calibrated_cut(y: np.ndarray, p: np.ndarray, m: Metric, sign: float, w: np.ndarray | None = None) -> float | None:
    """``tune_threshold``'s calibrated cut (rows weighted by ``w``), or None where it falls back (see there)."""
    # Weighted, each class must weigh a row at least (weights of mean 1): positives of weight
    # 1e-8 flattened the Platt fit, and the cut fell below every score.
    if not 0 < y.sum() < len(y) or (w is not None and not (w[y == 1].sum() >= 1 and w[y != 1].sum() >= 1)):
        return None
    z = np.log(np.clip(p, 1e-12, None)) - np.log(np.clip(1 - p, 1e-12, None))  # logits
    fit = _platt(z, y == 1, w)
    if fit is None or fit[0] <= 0:
        return None
    q = expit(fit[0] * z + fit[1])
    cuts = _candidates(p, len(p))  # no resampling here: every distinct score is a candidate
    cell, k = _cells(p, cuts)
    # Expected counts; the clip drops the -1e-16 that float sums leave (MCC takes a sqrt).
    pos, neg = (q, 1 - q) if w is None else (w * q, w * (1 - q))
    counts = _counts_per_cut(np.bincount(cell, pos, minlength=k), np.bincount(cell, neg, minlength=k))
    curve = sign * m.from_counts(*(np.maximum(c, 0.0) for c in counts))
    return float(cuts[_middle_of_best(curve)])


def tune_prior_correction(
    y: Any,
    proba: Any,
    priors: np.ndarray,
    metric: Any = "balanced_accuracy",
    *,
    powers: Any = None,
    unlearned: np.ndarray | None = None,
    sample_weight: Any = None,
) -> np.ndarray:
    """Multiclass rule: predict ``argmax(proba / priors**a)``, ``a`` in [0, 1] tuned on ``metric``.

    ``a = 0`` is plain argmax, ``a = 1`` full prior correction (the Bayes decision for equal
    class priors, which maximises balanced accuracy when the probabilities are calibrated).
    Returns the per-class scale ``priors**-a`` (normalised to mean 1) that ``decide`` multiplies in.
    ``unlearned`` (a mask) marks classes whose training rows all weighed 0: scale 0, never
    predicted (their prior 0, clipped, made them the most boosted class). A class merely absent
    from a continued cycle's rows keeps its scale. ``sample_weight`` weighs the rows the metric
    scores.
    """
    m = label_metric(metric)
    y = np.asarray(y).reshape(-1)
    proba = np.asarray(proba, dtype=float)
    priors = np.clip(np.asarray(priors, dtype=float), 1e-12, None)
    keep = 1.0 if unlearned is None else np.where(unlearned, 0.0, 1.0)
    powers = np.linspace(0, 1, 11) if powers is None else np.asarray(powers, dtype=float)
    sign = 1.0 if m.greater_is_better else -1.0
    raw = [keep * priors**-a for a in powers]
    scales = [s / np.mean(s) for s in raw]
    with warnings.catch_warnings():
        # A class the validation rows lack but some power predicts: scikit-learn says so once per
        # power (11 times a fit); the fit's own warnings name what the validation part lacks.
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true", category=UserWarning)
        scores = _scored([sign * m(y, proba * s, sample_weight=sample_weight) for s in scales], m)  # m takes argmax
    return scales[_middle_of_best(scores)]


def decide(proba: np.ndarray, threshold: float | None = None, class_scale: np.ndarray | None = None) -> np.ndarray:
    """Class codes from probabilities: binary cut at ``threshold``, or argmax of ``proba * class_scale``."""
    proba = np.asarray(proba)
    if threshold is not None:
        return (proba[:, 1] >= threshold).astype(np.int64)
    if class_scale is not None:
        return (proba * class_scale).argmax(axis=1)
    return proba.argmax(axis=1)
