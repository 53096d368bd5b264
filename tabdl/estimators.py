"""scikit-learn faces over preprocess -> tensors -> learner -> modules.

``__init__`` stores parameters only; everything is validated and learned in ``fit``.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import numbers
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d

from ._docs import ATTRIBUTES, PARAMETERS, entries, fill_doc
from .callbacks import EarlyStopping, ProgressBar, Recorder, SmoothLoss, epoch_steps
from .columns import (
    _PANDAS_2,
    as_frame,
    boxed,
    category_keys,
    check_column_names,
    check_unique_columns,
    iso_dates,
    key_spellings,
    mean_std,
    refuse_missing_target,
    row_as_frame,
    tabular_tags,
)
from .ensemble import MemberLoss, NetBag, ensemble_head, out_of_bag
from .guards import check_positive, finite, is_count, is_number, outside_tabdl, unchanged_on_error
from .io import SaveMixin
from .learner import (
    DivergenceWarning,
    Learner,
    TensorData,
    check_epochs,
    freeze_to,
    group_lrs,
    resolve_device,
    seeded,
    serving_device,
)
from .losses import CrossEntropyLoss, MSELoss
from .lr_finder import LRFindResult
from .metrics import Metric, get_metric, warn_if_accuracy_misleading, warn_if_f1_scores_the_majority
from .modules import TabularMLP, embedded_columns
from .num_embeddings import compute_bins, num_embedding_config
from .preprocess import Scaler, TabularPreprocessor
from .sampling import (
    OVERSAMPLE_DEFER,
    UNDERSAMPLE_FLOOR,
    check_sampling,
    check_threshold,
    class_weights,
    decide,
    label_smoothing,
    make_sampler,
    prior_corrected_loss,
    training_priors,
    tune_prior_correction,
    tune_threshold,
)

__all__ = ["TabularRegressor", "TabularClassifier"]


def _label(value: Any) -> Any:
    """A class label as Python prints it in a message: ``2``, not ``np.int64(2)``. String labels
    of an object array are already Python strings (``.tolist()`` on them raised)."""
    return value.item() if isinstance(value, np.generic) else value


def _label_kind(value: Any) -> str:
    """ "text", "bytes" or "number": class labels of two kinds in one y cannot be ordered (numpy's
    sort raised a bare TypeError), and an int class never equals its text."""
    return "text" if isinstance(value, str) else "bytes" if isinstance(value, bytes) else "number"


def _check_label_kinds(y: np.ndarray) -> None:
    """A ValueError when ``y`` mixes text and number labels (an object column from Excel, JSON
    or a database: 1, 2, "unknown")."""
    if np.asarray(y).dtype != object:
        return
    firsts: dict[str, Any] = {}
    for v in pd.unique(np.asarray(y).ravel()):
        firsts.setdefault(_label_kind(v), v)
    if len(firsts) > 1:
        (k1, v1), (k2, v2) = list(firsts.items())[:2]
        raise ValueError(
            f"y mixes {k1} and {k2} labels, such as {_label(v1)!r} and {_label(v2)!r}; convert it to "
            "one type (y.astype(str), or map the text to numbers)"
        )


def _seed(random_state: Any) -> int:
    """An int seed from sklearn's random_state conventions (None draws a fresh one)."""
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if not 0 <= random_state < 2**32:  # numpy's and scikit-learn's seed range
            raise ValueError(
                f"random_state must be None, an int in [0, 2**32 - 1] or a RandomState, got {random_state}"
            )
        return int(random_state)
    return int(check_random_state(random_state).randint(0, 2**31 - 1))


def _auto_batch_size(n: int, steps: int = 32, cap: int = 1024) -> int:
    """About ``steps`` steps per epoch, as a power of 2 in [16, cap].

    Small data gets small batches so a default fit still takes enough optimiser steps; large data
    gets large ones, which are faster per row and, with numerical embeddings, no less accurate
    (benchmarks/results/ablation.md: n/32 beat the former n/16 capped at 256 on diamonds).
    """
    return int(min(cap, max(16, 2 ** int(np.log2(max(n, 1) / steps)))))


# n_bags="auto": as many nets as keep n_bags x training rows within _BAG_ROWS, from 1 to
# _MAX_AUTO_BAGS (5 up to 20,000 rows, 1 from 50,001). Small tables, where one net's variance
# costs most and a fit takes seconds, get five; diamonds (43k rows) two; flights (262k) one,
# inside issue 8's fit-time bound
# (benchmarks/results/ablation.md, round 10).
_BAG_ROWS = 100_000
_MAX_AUTO_BAGS = 5


# Above this many embedded inputs to the MLP, the continuous columns of at most two values (flags,
# NaN indicators, constants) skip the numerical embeddings and enter as 0 / 1 (TabularMLP's
# raw_cont). On a 6,142-row table of 1,338 flags among 1,502 columns one net's fit fell from
# 269 s to 31 s and held-out log loss from 0.2928 to 0.2717 (3 seeds, each better). On five
# tables of 5-49 flags the same change moved the error by -0.9 % to +2.0 % (mean +0.4 %), so
# narrower tables keep every embedding (benchmarks/results/robustness.md, "Flags on wide tables").
_RAW_FLAGS_ABOVE = 4096

# How a continued cycle's warnings say that it has no validation part (validation_fraction cuts
# one in fit only); fine_tune drops its frozen phase's copy, which the unfrozen phase repeats.
_NO_VALID_CYCLE = " (validation_fraction serves fit only)"


def _warn_if_folded_whole(pre: TabularPreprocessor, X: pd.DataFrame, param: str = "min_category_count") -> None:
    """Warn about categorical columns whose every category was folded into the unknown vector:
    the net cannot tell their values apart, and their exported embeddings are constant.
    Folding can be right (an ID column; churn's ~60-row states are noise to the trees), but a
    lost column must not pass unnoticed: it may be dates or numbers stored as text."""
    folded = [c for c, v in zip(pre.cat_names_, pre.vocabs_) if not v and X[c].notna().any()]
    if folded:
        ids = param != "min_category_count"  # MatrixFactorization's users and items
        as_text = [c for c in folded if not ids and _numbers_or_dates_as_text(X[c])]
        # A value per row (an id, free text): a lower count would only memorise rows.
        unique = [c for c in folded if not ids and c not in as_text and _one_value_per_row(X[c])]
        lower = [c for c in folded if c not in unique and c not in as_text]
        advice = [f"Lower {param} to keep {'them' if lower == folded else lower}"] if lower else []
        if unique:
            advice.append(f"{unique} hold a different value in every row (an id or free text): drop them")
        if as_text:
            advice.append(f"{as_text} hold numbers or dates stored as text: convert them")
        warnings.warn(
            f"every category of {folded} was seen fewer than {param}={pre.min_category_count_} times and "
            "shares the unknown vector, so the net ignores these columns"
            + ("" if ids else " (their exported embeddings are constant)")
            + ". "
            + "; ".join(advice),
            UserWarning,
            stacklevel=outside_tabdl(),
        )


def _one_value_per_row(col: pd.Series) -> bool:
    """Whether every present value differs; False for values pandas cannot hash (dicts, lists)."""
    try:
        return bool(col.dropna().is_unique)
    except TypeError:
        return False


def _numbers_or_dates_as_text(col: pd.Series, sample: int = 1000) -> bool:
    """Whether a column's text (its first ``sample`` values present) reads as numbers, or as ISO
    dates, all of it: the folded-whole warning's advice to convert it fits such columns only, not
    names like countries (a Kaggle user found it advising so on one)."""
    text = col.dropna().iloc[:sample].astype(object)  # categories and pyarrow text as their values
    if not len(text) or not all(isinstance(v, str) for v in text):
        return False
    return bool(pd.to_numeric(text, errors="coerce").notna().all()) or iso_dates(text) is not None


def _check_y_range(value: Any, *, allow: tuple = (None,)) -> None:
    """``y_range``: (low, high) with low < high (a tuple, list or array), or one of ``allow``."""
    if value is None and None in allow or isinstance(value, str) and value in allow:
        return
    pair = None if isinstance(value, str) else np.asarray(value, dtype=object)
    ok = (
        pair is not None
        and pair.shape == (2,)
        and all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in pair)
    )
    if not ok or not (finite(pair[0]) and finite(pair[1]) and pair[0] < pair[1]):
        also = ", ".join(repr(a) for a in allow)
        raise ValueError(f"y_range must be (low, high), finite, with low < high, or {also}; got {value!r}")


def _warn_if_outside_y_range(y_range: Any, y: np.ndarray, what: str) -> None:
    """A UserWarning when a user's ``y_range`` leaves out some of ``y``: no prediction can reach
    those values (the sigmoid squashes every output into the range)."""
    lo, hi = y_range
    outside = float(np.mean((y < lo) | (y > hi)))
    if outside > 0:
        warnings.warn(
            f"y_range={y_range!r} leaves out {outside:.1%} of the {what} (which span "
            f"[{np.min(y):.4g}, {np.max(y):.4g}]): no prediction can reach them",
            UserWarning,
            stacklevel=outside_tabdl(),
        )


def _trains_on_cuda(device: Any) -> bool:
    """Whether ``device`` (a parameter, not yet validated) would train on a GPU here."""
    if isinstance(device, str) and device == "auto":
        return torch.cuda.is_available()
    try:
        return torch.device(device).type == "cuda"
    except (RuntimeError, TypeError):
        return False  # fit says what is wrong with it


@contextlib.contextmanager
def _about(what: str):
    """ValueErrors raised in the block say what they are about (``"eval_set: ..."``)."""
    try:
        yield
    except ValueError as e:
        raise ValueError(f"{what}: {e}") from None


def _every_class_trains(
    y: np.ndarray, tr: np.ndarray, va: np.ndarray, w: np.ndarray | None, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The cut with the rows of any class that only the validation part holds moved back to
    training. A class of one row cannot be stratified: the plain cut could hold it out, and the
    net trained on the other classes alone while threshold="auto" was tuned on that row. As many
    rows of the largest class take their place (of weight > 0 where the part would have none),
    so the validation part keeps its size and its weighted rows."""
    held_out = np.setdiff1d(np.unique(y[va]), np.unique(y[tr]))
    if not len(held_out):
        return tr, va
    back = np.isin(y[va], held_out)
    tr, va = np.concatenate([tr, va[back]]), va[~back]
    labels, counts = np.unique(y[tr], return_counts=True)
    pool = y[tr] == labels[counts.argmax()]
    if w is not None and not w[va].any():
        pool &= w[tr] > 0
    pool = np.flatnonzero(pool)
    n = min(int(back.sum()), int(counts.max()) - 1, len(pool))
    pick = np.random.default_rng(seed).choice(pool, size=n, replace=False)
    return np.delete(tr, pick), np.concatenate([va, tr[pick]])


def _row_weights(sample_weight: Any, n_rows: int) -> np.ndarray | None:
    """``sample_weight`` checked as scikit-learn's estimators check it (a number, or one finite
    value >= 0 per row, not all 0), as float64 weights scaled to a largest weight of 1 (float32
    holds them then, however large they were); None when every row weighs the same, which leaves
    the loss, and so the fit, exactly the unweighted one."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, (str, bytes, numbers.Number, np.generic)):  # one weight for every row
        if not isinstance(sample_weight, numbers.Real):
            raise ValueError(f"sample_weight must be a number or one number per row of X, got {sample_weight!r}")
        sample_weight = np.full(n_rows, float(sample_weight))
    try:
        w = check_array(sample_weight, ensure_2d=False, dtype=np.float64, input_name="sample_weight")
    except (TypeError, ValueError) as e:
        raise ValueError(f"sample_weight must hold one finite number per row of X: {e}") from None
    if w.ndim != 1 or len(w) != n_rows:
        raise ValueError(f"sample_weight must hold one number per row of X ({n_rows} rows), got shape {w.shape}")
    if (w < 0).any():
        i = int(np.argmax(w < 0))
        raise ValueError(f"sample_weight must be >= 0, got {w[i]} at row {i}")
    if not w.any():
        raise ValueError("sample_weight is zero for every row: at least one row must weigh more than zero")
    if (w == w[0]).all():
        return None
    w = w / w.max()
    # Weights float32 cannot hold (below 1e-45 of the largest) are 0 here too, so the checks
    # on w > 0 (the validation cut's) see what the loss will.
    return np.where(w.astype(np.float32) > 0, w, 0.0)


def _weighted_on_both_sides(tr: np.ndarray, va: np.ndarray, w: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The cut (training rows, validation rows), with a row of weight > 0 swapped into a side that
    has none: a part whose rows all weigh 0 scores 0 every epoch (validation: the first epoch was
    kept), or trains on nothing. Refused when fewer than 2 rows weigh more than zero."""
    rng = np.random.default_rng(seed)
    for short, full in ((va, tr), (tr, va)):
        if not w[short].any():
            donors = np.flatnonzero(w[full] > 0)
            if len(donors) < 2:
                raise ValueError(
                    f"sample_weight: {int((w > 0).sum())} of {len(w)} rows weigh more than zero, and the "
                    "validation cut needs one on each side; pass an eval_set, or set validation_fraction=None"
                )
            j, k = rng.choice(donors), rng.integers(len(short))
            short[k], full[j] = full[j], short[k]
    return tr, va


def _weight_tensor(w: np.ndarray | None) -> torch.Tensor | None:
    """Row weights (``_row_weights``) as the tensors carry them."""
    return None if w is None else torch.from_numpy(w.astype(np.float32))


def _check_int_or_auto(name: str, value: Any) -> None:
    if isinstance(value, str) and value == "auto":
        return
    try:
        check_positive(name, value, integer=True)
    except ValueError:  # name the default too: "Auto" or "20" is a near miss of it
        raise ValueError(f"{name} must be 'auto' or an int > 0, got {value!r}") from None


def _check_numbers(est: Any, key: str, shape: tuple[int, ...]) -> None:
    v = getattr(est, key)
    if not isinstance(v, np.ndarray) or v.dtype.kind not in "biuf" or v.shape != shape:
        raise ValueError(f"{key} is not an array of {shape[0]} number(s)")


def _with_base_params(init, base_init):
    """Give ``init(self, *, own..., **kwargs)`` the signature own params + the base's params.

    scikit-learn reads an estimator's parameters from its ``__init__`` signature (get_params,
    clone, GridSearchCV, the estimator checks) and skips ``**kwargs``: without this a subclass
    that adds one parameter would hide all the inherited ones, and clone() would reset them.
    """
    own = [p for p in inspect.signature(init).parameters.values() if p.kind is not p.VAR_KEYWORD]
    base = [p for name, p in inspect.signature(base_init).parameters.items() if name != "self"]
    init.__signature__ = inspect.Signature(own + base)
    return init


class _TabularEstimator(SaveMixin, BaseEstimator):
    """Shared machinery of TabularRegressor and TabularClassifier."""

    # Subclasses set these.
    _task: str
    _auto_batch = (32, 1024)  # batch_size="auto": (steps per epoch, largest batch)
    _fold_param = "min_category_count"  # the parameter behind the preprocessor's rare-category fold

    def __init__(
        self,
        *,
        layers: Sequence[int] = (200, 100),
        emb_sizes: dict[Any, int] | None = None,
        dropout: float = 0.1,
        emb_dropout: float = 0.0,
        batchnorm: bool = False,
        epochs: int | str = "auto",  # 20 for classifiers, 40 for regressors (ablation.md round 9)
        lr: float | slice = 1e-2,
        batch_size: int | str = "auto",
        weight_decay: float = 0.01,
        validation_fraction: float | None = 0.1,
        patience: int | None = None,
        metrics: Sequence[Any] | None = None,
        cat_features: Sequence[Any] | None = None,
        cont_features: Sequence[Any] | None = None,
        min_category_count: int | str = "auto",  # 1% of training rows in [3, 100]: tabdl.preprocess
        scaler: Scaler = "quantile",
        num_embeddings: str | dict[str, Any] | None = "auto",
        n_members: int = 2,  # TabM-mini members; 1 is the fast setting, 4 the most accurate (ablation.md)
        n_bags: int | str = "auto",  # whole nets, each on its own validation cut: see _n_bags
        average_weights: bool = True,  # score, keep and return a moving average of the weights
        device: str = "auto",
        verbose: int = 0,
        random_state: Any = None,
    ):
        self.layers = layers
        self.emb_sizes = emb_sizes
        self.dropout = dropout
        self.emb_dropout = emb_dropout
        self.batchnorm = batchnorm
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.metrics = metrics
        self.cat_features = cat_features
        self.cont_features = cont_features
        self.min_category_count = min_category_count
        self.scaler = scaler
        self.num_embeddings = num_embeddings
        self.n_members = n_members
        self.n_bags = n_bags
        self.average_weights = average_weights
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    # >>> tags
    def __sklearn_tags__(self):
        tags = tabular_tags(super().__sklearn_tags__(), self.random_state)
        # A seed repeats a fit bit for bit on the CPU only: CUDA's embedding backward adds with
        # atomics, in no fixed order.
        tags.non_deterministic = tags.non_deterministic or _trains_on_cuda(self.device)
        return tags

    # >>> validation
    def _validate_params(self) -> None:
        self._validate_mlp_params()
        check_positive("weight_decay", self.weight_decay, allow_zero=True)
        if not isinstance(self.batchnorm, (bool, np.bool_)):
            raise ValueError(f"batchnorm must be True or False, got {self.batchnorm!r}")
        self._validate_fit_params()
        if self.emb_sizes is not None and not isinstance(self.emb_sizes, dict):
            raise ValueError(f"emb_sizes must be None or a dict {{column: size}}, got {self.emb_sizes!r}")
        num_embedding_config(self.num_embeddings)
        check_positive("n_members", self.n_members, integer=True)
        _check_int_or_auto("n_bags", self.n_bags)
        if not isinstance(self.average_weights, (bool, np.bool_)):
            raise ValueError(f"average_weights must be True or False, got {self.average_weights!r}")

    # The two groups below are shared with MatrixFactorization (its kind="nn" is a TabularMLP).
    def _validate_mlp_params(self) -> None:
        layers = self.layers
        # Sized: an iterator would be used up by this check and build a net without layers.
        sequence = isinstance(layers, Iterable) and hasattr(layers, "__len__") and not isinstance(layers, (str, bytes))
        if not sequence or not all(
            isinstance(w, numbers.Integral) and not isinstance(w, bool) and w > 0 for w in layers
        ):
            raise ValueError(f"layers must be a sequence of positive ints, got {layers!r}")
        for name in ("dropout", "emb_dropout"):
            v = getattr(self, name)
            if not isinstance(v, numbers.Real) or not 0 <= v < 1:
                raise ValueError(f"{name} must be in [0, 1), got {v!r}")

    def _validate_fit_params(self) -> None:
        if not isinstance(self.verbose, numbers.Integral) or self.verbose < 0:  # bools are Integral
            raise ValueError(f"verbose must be an int >= 0 (0: silent, 1: progress bars), got {self.verbose!r}")
        _check_int_or_auto("epochs", self.epochs)
        _check_int_or_auto("batch_size", self.batch_size)
        vf = self.validation_fraction
        if vf is not None and (not isinstance(vf, numbers.Real) or not 0 <= vf < 1):
            raise ValueError(f"validation_fraction must be None or in [0, 1), got {vf!r}")
        if self.patience is not None:
            check_positive("patience", self.patience, integer=True)
        group_lrs(self.lr, 2)  # a slice's bounds too, before training
        self._metric_objects()

    def _check_one_row_batches(self, model: torch.nn.Module | None = None) -> None:
        """batch_size=1 against a BatchNorm layer that would see one row (torch: "Expected more
        than 1 value per channel"): in the fitted ``model`` (continued training), else in the
        net that fit builds from the parameters. Members (``n_members`` > 1) give it k rows."""
        if self.batch_size != 1:
            return
        if model is None:
            one_row = self._builds_one_row_batchnorm()
        else:
            one_row = any(
                getattr(net, "k", 1) == 1
                and any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in net.modules())
                for net in getattr(model, "nets", [model])
            )
        if one_row:
            raise ValueError(
                "batch_size=1 cannot train the net's BatchNorm layers on one row: use batch_size >= 2"
                + (", batchnorm=False or n_members >= 2" if hasattr(self, "batchnorm") else "")
            )

    def _builds_one_row_batchnorm(self) -> bool:
        return bool(self.batchnorm) and int(self.n_members) == 1 and len(self.layers) > 0  # BatchNorm follows a layer

    def _metric_objects(self) -> list[Metric]:
        """``metrics`` as Metric objects. A named metric of the other task is refused here, before
        training, with its name: otherwise sklearn fails after the first epoch ("continuous format
        is not supported") without saying which metric."""
        if isinstance(self.metrics, str):
            raise ValueError(
                f"metrics must be a list of names or callables, got {self.metrics!r}; use metrics=[{self.metrics!r}]"
            )
        out = []
        for m in self.metrics or []:
            metric = get_metric(m)
            if isinstance(m, str) and (metric.kind == "regression") != (self._task == "regression"):
                task = "regression" if metric.kind == "regression" else "classification"
                raise ValueError(f"metrics: {m!r} is a {task} metric; {type(self).__name__} cannot report it")
            # One history_ column per metric: a second "<lambda>" overwrote the first, and a
            # callable named valid_loss replaced the loss that picks the best epoch.
            if metric.name in Recorder.LOG_COLUMNS or metric.name in {o.name for o in out}:
                clash = (
                    "names a column history_ already holds"
                    if metric.name in Recorder.LOG_COLUMNS
                    else "names two metrics"
                )
                raise ValueError(
                    f"metrics: {metric.name!r} {clash}; give each callable its own __name__ "
                    "(def my_score(y_true, output): ...)"
                )
            out.append(metric)
        return out

    def _check_X_predict(self, X: Any) -> pd.DataFrame:
        check_is_fitted(self, "model_")
        return self._match_columns(X)

    def _match_columns(self, X: Any) -> pd.DataFrame:
        """Match X to the fitted columns: by name for frames, by position for arrays."""
        fitted_names = hasattr(self, "feature_names_in_")
        X = row_as_frame(X, self.preprocessor_.columns_)
        if isinstance(X, pd.Series):  # not a row: a column, named by its name as fit named it
            X = X.to_frame()
        has_names = isinstance(X, pd.DataFrame) and all(isinstance(c, str) for c in X.columns)
        cls = type(self).__name__
        # By name for string names, and for a frame that holds every fitted name whatever its
        # other columns are called.
        if fitted_names and (
            has_names or isinstance(X, pd.DataFrame) and set(self.feature_names_in_) <= set(X.columns)
        ):
            return X  # selected by name: other order and extra columns are fine
        # Other names (ints, tuples) go by position, as scikit-learn has them, except a frame
        # holding exactly the fitted names in another order, which by position was misread.
        if isinstance(X, pd.DataFrame) and X.columns.is_unique and set(X.columns) == set(self.preprocessor_.columns_):
            return X
        X = as_frame(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {cls} is expecting {self.n_features_in_} features as input."
            )
        if has_names:
            warnings.warn(
                f"X has feature names, but {cls} was fitted without feature names",
                UserWarning,
                stacklevel=outside_tabdl(),
            )
        elif fitted_names:
            warnings.warn(
                f"X does not have valid feature names, but {cls} was fitted with feature names",
                UserWarning,
                stacklevel=outside_tabdl(),
            )
        return X.set_axis(self.preprocessor_.columns_, axis=1)

    def _check_X_y_fit(self, X: Any, y: Any) -> tuple[pd.DataFrame, np.ndarray]:
        X = as_frame(X)
        if X.shape[0] == 0:
            raise ValueError("X is empty: found 0 samples, a minimum of 1 is required")
        if X.shape[1] == 0:  # here, before the validation cut shrinks the shape it reports
            raise ValueError(f"0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        y = np.asarray(y.to_numpy() if isinstance(y, (pd.Series, pd.DataFrame)) else y)
        if y.ndim == 2 and y.shape[1] == 1 and self._task == "classification":
            y = column_or_1d(y, warn=True)  # sklearn's DataConversionWarning for a column y
        if y.ndim != 1 and self._task == "classification":  # for fit, continued training and eval_set
            raise ValueError(f"{type(self).__name__} needs a 1-D y, got shape {y.shape}")
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"X and y have inconsistent numbers of samples: {X.shape[0]} != {y.shape[0]}")
        if X.shape[0] < 2:
            raise ValueError("n_samples=1: training needs at least 2 rows")
        refuse_missing_target(y)
        if self._task == "classification":
            _check_label_kinds(y)
        return X, y

    # >>> the fit path
    def _encode_target(self, y: np.ndarray) -> torch.Tensor:
        raise NotImplementedError

    def _n_out(self) -> int:
        raise NotImplementedError

    def _loss(self) -> torch.nn.Module:
        raise NotImplementedError

    def _to_output(self, out: torch.Tensor) -> np.ndarray:
        raise NotImplementedError

    def _to_target(self, y: torch.Tensor) -> np.ndarray:
        raise NotImplementedError

    def _check_eval_set(self, eval_set: Any) -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None]:
        """The same checks as the training data: a NaN target would make every valid_loss NaN
        (so early stopping never sees an improvement) and a length mismatch would broadcast.
        A third item weighs the rows of the validation loss, as ``sample_weight`` weighs X's.
        LightGBM's and XGBoost's spelling, a list holding one such pair, is that pair."""
        if isinstance(eval_set, list) and eval_set and all(isinstance(e, tuple) for e in eval_set):
            # [(X, y), ...]; only one can be validated on. [X, y] with X a tuple of rows and y a
            # tuple of labels is a pair as ever: y's items are scalars, no set's are.
            if len(eval_set) == 1:
                eval_set = eval_set[0]
            elif all(len(e) in (2, 3) and not any(pd.api.types.is_scalar(v) for v in e) for e in eval_set):
                eval_set = None
        if not isinstance(eval_set, (tuple, list)) or len(eval_set) not in (2, 3):
            raise ValueError(
                "eval_set must be a pair (X_valid, y_valid) or a triple (X_valid, y_valid, sample_weight_valid), "
                "or a list holding one of them: tabdl validates on one set"
            )
        Xv, yv, wv = (*eval_set, None)[:3]
        with _about("eval_set"):
            Xv = as_frame(Xv)
            if len(Xv) == 1:  # not "training needs at least 2 rows", as the check below says
                raise ValueError("1 row is too few to validate on; pass 2 or more, or leave eval_set out")
            Xv, yv = self._check_X_y_fit(Xv, yv)
            return Xv, yv, self._sample_weight(wv, len(Xv))

    def _sample_weight(self, sample_weight: Any, n_rows: int) -> np.ndarray | None:
        """The row weights of ``sample_weight`` (``_row_weights``; a hook: MatrixFactorization refuses them)."""
        return _row_weights(sample_weight, n_rows)

    def _train_weights(self, sample_weight: Any, n_rows: int) -> np.ndarray | None:
        """The training rows' weights (``_sample_weight``; a hook: the classifier refuses them with sampling)."""
        return self._sample_weight(sample_weight, n_rows)

    def _cuts(
        self, y: np.ndarray, n_nets: int, split: bool, w: np.ndarray | None = None
    ) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """Each net's (training rows, validation rows) as positions in y.

        Net i cuts its own ``validation_fraction`` with its own seed (``_net_seed``), so a bag
        learns from every row while each net still stops and averages on rows it never trained on. No cut
        (validation None) when ``split`` is off (eval_set, lr_find) or the fraction leaves none.
        When some row weights ``w`` are 0, both parts keep rows of weight > 0 (stratified on it,
        else one swapped in: ``_weighted_on_both_sides``).
        """
        rows = np.arange(len(y))
        n_valid = int(len(y) * (self.validation_fraction or 0.0)) if split else 0
        if n_valid < 1 or len(y) - n_valid < 2:
            return [(rows, None)] * n_nets
        # Stratified on the class; when some rows weigh 0, first on (class, weight > 0), then the
        # class, then weight > 0 alone: the first rule that leaves rows of weight > 0 on both sides
        # (a stratum too small to split moves on to the next rule, down to a plain split).
        strata = [y] if self._task == "classification" else []
        zeros = w is not None and not w.all()
        if zeros:
            pos = (w > 0).astype(np.int64)
            strata = ([np.unique(y, return_inverse=True)[1].reshape(-1) * 2 + pos, y] if strata else []) + [pos]
        strata.append(None)
        cuts = []
        for i in range(n_nets):
            seed = self._net_seed(i)
            for strat in strata:
                try:
                    tr, va = train_test_split(rows, test_size=n_valid, random_state=seed, stratify=strat)
                except ValueError:  # a class too small to stratify
                    continue
                if not zeros or (w[tr].any() and w[va].any()):
                    break
            if zeros:
                tr, va = _weighted_on_both_sides(tr, va, w, seed)
            if self._task == "classification":
                tr, va = _every_class_trains(y, tr, va, w, seed)
            cuts.append((tr, va))
        return cuts

    def _net_seed(self, i: int) -> int:
        """Net i's seed: ``seed_`` for net 0 (the fit a single net makes), then seeds spawned from
        ``(seed_, i)``. Not ``seed_ + i``: fits with random_state s and s + 1 would share four of
        their five nets, and repeats over consecutive seeds would not be independent."""
        return self.seed_ if i == 0 else int(np.random.SeedSequence([self.seed_, i]).generate_state(1)[0])

    def _n_bags(self, n_rows: int) -> int:
        """``n_bags`` with "auto" resolved from the training rows (see _BAG_ROWS).

        Why whole nets: on churn's 12 validation splits, five nets each on its own 90 % cut
        lowered 1 - AUC on every split, by 8 % on average (error ratio to LightGBM 1.047 -> 0.966);
        five nets sharing one cut gained 60 % as much, so the cuts matter about as much as the seeds
        (benchmarks/results/ablation.md, round 10). Prediction costs one forward pass per net.
        """
        if isinstance(self.n_bags, str):  # "auto"
            return int(np.clip(_BAG_ROWS // max(n_rows, 1), 1, _MAX_AUTO_BAGS))
        return int(self.n_bags)

    # Hooks: a subclass with other columns or another net (MatrixFactorization) overrides these two.
    def _make_preprocessor(self) -> TabularPreprocessor:
        return TabularPreprocessor(
            cat_features=self.cat_features,
            cont_features=self.cont_features,
            min_category_count=self.min_category_count,
            scaler=self.scaler,
        )

    def _make_model(self) -> torch.nn.Module:
        """The net described by ``model_config_`` (plain JSON kwargs, so a saved model rebuilds it);
        a NetBag of such nets once a fit has trained several ("n_bags" in the config)."""
        config = dict(self.model_config_)
        n_bags = config.pop("n_bags", 1)
        if n_bags == 1:
            return TabularMLP(**config)
        return NetBag([TabularMLP(**config) for _ in range(n_bags)], config["reduce"])

    def _model_config(self, train: TensorData) -> dict[str, Any]:
        pre = self.preprocessor_
        num = num_embedding_config(self.num_embeddings, n_rows=len(train))
        x = train.x_cont
        raw: list[list[float]] = []  # [column, low, high] of each column that skips the embeddings
        if num and len(x) and x.shape[1] * num["d_embedding"] > _RAW_FLAGS_ABOVE:
            # Columns of at most two values (flags, NaN indicators, constants) enter the MLP raw.
            low, high = x.amin(0), x.amax(0)
            two = ((x == low) | (x == high)).all(0).nonzero().flatten().tolist()
            raw = [[j, float(low[j]), float(high[j])] for j in two]
        bins = None
        if num and num["kind"] == "piecewise":  # edges learned from the training rows, JSON-able
            xe = x.numpy() if not raw else x.numpy()[:, embedded_columns(x.shape[1], [r[0] for r in raw])]
            bins = compute_bins(xe, num["n_bins"])
        return {
            "cardinalities": pre.cardinalities_,
            "emb_dims": pre.emb_sizes(self.emb_sizes),
            "n_cont": pre.n_cont_out_,
            "n_out": self._n_out(),
            "layers": [int(w) for w in self.layers],
            "dropout": float(self.dropout),
            "emb_dropout": float(self.emb_dropout),
            "batchnorm": bool(self.batchnorm),
            "y_range": self._y_range_scaled(),
            "num_embeddings": num,
            "num_bins": bins,
            **({"raw_cont": raw} if raw else {}),  # absent = every column embedded, as before
            "k": int(self.n_members),
            "reduce": "mean" if self._task == "regression" else "proba",
        }

    def _y_range_scaled(self):
        return None

    def _learner(
        self,
        n_train: int,
        callbacks=(),
        sampler=None,
        valid_loss_func=None,
        diverge_ref=None,
        seed: int | None = None,
        progress: str = "fit",
    ) -> Learner:
        bs = self._batch_size(n_train)
        cbs = list(callbacks)
        if self.verbose:
            cbs.append(ProgressBar(progress))
        loss = self._loss()
        return Learner(
            self.model_,
            MemberLoss(loss) if getattr(self.model_, "k", 1) > 1 else loss,
            batch_size=bs,
            weight_decay=self._weight_decay(),
            device=self.device_,
            seed=self.seed_ if seed is None else seed,
            metrics=self._metric_objects(),
            to_output=self._to_output,
            to_target=self._to_target,
            callbacks=cbs,
            sampler=sampler,
            valid_loss_func=valid_loss_func,
            diverge_ref=diverge_ref,
            average_weights=self._average_weights(),
        )

    def _batch_size(self, n_train: int) -> int:
        """``batch_size`` with "auto" resolved for ``n_train`` training rows."""
        return _auto_batch_size(n_train, *self._auto_batch) if self.batch_size == "auto" else int(self.batch_size)

    def _cycle_learner(
        self,
        train: TensorData,
        callbacks=(),
        *,
        continued: bool = False,
        seed: int | None = None,
        progress: str = "fit",
    ) -> Learner:
        """The learner of one training cycle (fit, fit_one_cycle): the task's sampler, and the
        validation loss that goes with it. A ``continued`` cycle measures divergence against the
        first loss of the first fit (see Learner's diverge_ref), not its own near-0 first loss."""
        sampler = self._sampler(train, continued=continued)
        curve = getattr(self, "loss_curve_", ()) if continued else ()
        ref = float(curve[0]) if len(curve) else None
        return self._learner(len(train), callbacks, sampler, self._valid_loss(train, sampler), ref, seed, progress)

    def _weight_decay(self) -> float:
        """The learner's weight decay (a hook: MatrixFactorization resolves "auto" per kind)."""
        return float(self.weight_decay)

    def _average_weights(self) -> bool:
        """Whether the learner scores, keeps and returns a moving average of the weights
        (``tabdl.optim.WeightAverage``; a hook: MatrixFactorization has no such parameter).

        Why on by default: the best epoch by validation loss often falls mid-cycle, at a high
        learning rate, where the single-step weights are noisy. On the validation parts it lifted
        churn's mean AUC over 8 splits from 0.924 to 0.930 and full flights from 0.772 to 0.775,
        lowered the held-out log loss on all 12 classification tables of the robustness sweep, and
        made the 40-epoch regression cycle safe on small tables (benchmarks/results/ablation.md,
        round 9).
        """
        return bool(self.average_weights)

    def _epochs(self) -> int:
        """``epochs``, with "auto" resolved: 40 for regression, 20 for classification.

        A regressor's validation loss keeps falling to the end of a 20-epoch cycle (best epoch
        19-20 on diamonds), and 40 epochs with weight averaging were better on diamonds (RMSE
        0.0898 -> 0.0876) and on average over nine other regression tables (mean ratio 0.966,
        none worse than 1.008; Boston 0.870, where 40 epochs without averaging lost 8%). A
        classifier's best epoch by log loss falls mid-cycle, so a longer cycle buys little, and it
        would double the fit time on flights (ablation.md, round 9).
        """
        if isinstance(self.epochs, str):  # "auto"
            return 40 if self._task == "regression" else 20
        return int(self.epochs)

    def _tensors(self, X: pd.DataFrame, y: np.ndarray | torch.Tensor | None, w: np.ndarray | None = None) -> TensorData:
        """X encoded; y encoded too unless it already is (a tensor: _setup encodes it once);
        ``w`` the row weights (``_sample_weight``)."""
        x_cat, x_cont = self.preprocessor_.transform(X)
        if y is not None and not isinstance(y, torch.Tensor):
            y = self._encode_target(y)
        return TensorData(x_cat, x_cont, y, _weight_tensor(w))

    def _setup(self, X: Any, y: Any, eval_set, *, sample_weight: Any = None, split: bool = True):
        """Validate, learn the target and preprocessing, and encode: everything before the nets.

        Returns every row of X encoded once (with its row weights), each net's cut of it
        (``_cuts``; one net unless ``split``) and the encoded eval_set (or None).
        """
        self._validate_params()
        self._check_one_row_batches()
        X, y = self._check_X_y_fit(X, y)
        w = self._train_weights(sample_weight, len(X))
        self.seed_ = _seed(self.random_state)
        self.device_ = str(resolve_device(self.device))
        self._set_feature_names(X)
        self._fit_target(y, w)
        eval_part = self._check_eval_set(eval_set) if eval_set is not None else None
        cuts = self._cuts(y, self._n_bags(len(X)) if split else 1, split and eval_part is None, w)
        if split:
            self._check_validation(eval_part is not None or cuts[0][1] is not None, y, w)
        # The encoded target (class codes, or scaled values) serves the rare-category test of
        # "auto" and then the tensors. The preprocessing learns from the first net's training
        # rows, so that net is the fit a single net would make (and exports the same embeddings).
        y_enc = self._encode_target(y)
        fit_rows = cuts[0][0]
        X_fit, y_fit = (X, y_enc) if cuts[0][1] is None else (X.iloc[fit_rows], y_enc[fit_rows])  # no copy uncut
        self.preprocessor_ = self._make_preprocessor().fit(X_fit, y_fit.numpy())
        _warn_if_folded_whole(self.preprocessor_, X_fit, self._fold_param)
        if len(cuts) > 1 and X_fit is not X:
            self.preprocessor_.release_pins(X)  # the other nets train on rows the first held out
        valid = None if eval_part is None else self._eval_tensors(eval_part, y)
        return self._tensors(X, y_enc, w), cuts, valid

    def _eval_tensors(self, eval_part: tuple[Any, np.ndarray], y: np.ndarray) -> TensorData:
        """The eval_set (checked by ``_check_eval_set``) encoded as rows to predict are (columns by
        name, or by position for an array), its targets as training on ``y`` encodes them; its
        errors say that they are about eval_set."""
        Xv, yv, wv = eval_part
        with _about("eval_set"):
            return TensorData(
                *self.preprocessor_.transform(self._match_columns(Xv)), self._encode_for(yv, y), _weight_tensor(wv)
            )

    def _check_validation(self, has_valid: bool, y: np.ndarray, w: np.ndarray | None) -> None:
        """Refuse a fit that needs a validation part and has none (a hook: the classifier's
        "auto", and its warnings about the metrics it scores there); say that ``patience`` has
        nothing to watch, and ``metrics`` nothing to score, without one (the metrics asked for
        were otherwise missing from history_ without a word). A fit's own: lr_find's sweep, which
        scores nothing, does not call it."""
        if not has_valid:
            self._warn_unscored(
                "this fit",
                "",
                "history_ holds no column for them",
                "Set validation_fraction (with enough rows for it) or pass eval_set",
            )

    def _warn_unscored(self, where: str, note: str, columns: str, advice: str) -> None:
        """Say that ``patience`` and ``metrics``, when set, have no validation part to read in
        ``where`` ("this fit"); ``note`` says why, ``columns`` what history_ holds instead."""
        if self.patience:
            warnings.warn(
                f"patience={self.patience} watches the validation loss, and {where} has no validation part{note}: "
                f"every epoch runs. {advice}",
                UserWarning,
                stacklevel=outside_tabdl(),
            )
        if self.metrics:
            names = [m.name for m in self._metric_objects()]
            warnings.warn(
                f"metrics {names} are scored on the validation part, and {where} has none{note}: {columns}. {advice}",
                UserWarning,
                stacklevel=outside_tabdl(),
            )

    def _encode_for(self, y_new: np.ndarray, y: np.ndarray) -> torch.Tensor:
        """``y_new`` encoded as it will be once training on ``y`` has adapted the target (a hook:
        the classifier's classes may change), so continued training can encode, and refuse,
        before anything changes."""
        return self._encode_target(y_new)

    def _build_model(self, train: TensorData) -> None:
        """A freshly initialised net; call under the fit's seed so the init is reproducible."""
        self.model_config_ = self._model_config(train)
        self.model_ = self._make_model()

    def fit(self, X: Any, y: Any, *, sample_weight: Any = None, eval_set: tuple[Any, ...] | None = None):
        """Fit with the one-cycle policy; ``eval_set=(X_valid, y_valid)`` replaces the split
        (``[(X_valid, y_valid)]``, LightGBM's spelling, too). ``X_valid`` is matched to X's columns as ``predict`` matches its X: by name when X had
        string column names and X_valid holds them, else by position.

        ``sample_weight`` (one number >= 0 per row) weighs each row's loss, in training and in
        the validation loss that picks the best epoch: a row of weight 2 counts as two rows, one
        of weight 0 as none (``tabdl.losses``; with ``class_weight`` the two multiply, and
        ``"balanced"`` sums the weights per class). It weighs the regressor's target scaling and
        clip range too, and the validation cut keeps rows of weight > 0 on both sides.
        ``eval_set=(X_valid, y_valid, w_valid)`` weighs the rows of an eval_set. The built-in
        metrics, in ``history_`` and as ``threshold_metric`` (the rule of ``threshold="auto"``),
        weigh the validation rows too; the preprocessing learns from every row of X. The classifier's ``sampling`` does not
        combine with unequal weights.

        With several nets (``n_bags``) each trains in turn on its own cut; the fit keeps their
        average, and the validation rows of the decision rule are each scored by the nets that
        held them out (out of bag). With ``eval_set`` every net validates on it and trains on all
        of X, so the nets differ by seed only.
        """
        # A refused or failed refit keeps the fitted model. So does a Ctrl-C that escapes
        # _fit_nets: it keeps every net that finished, so one that escapes fell where none had
        # (encoding X, scoring), and the old net was left beside the new target scaling.
        with unchanged_on_error(self, interrupt=True):
            return self._fit_nets(X, y, eval_set, sample_weight)

    def _fit_nets(self, X: Any, y: Any, eval_set: tuple[Any, ...] | None, sample_weight: Any) -> _TabularEstimator:
        data, cuts, eval_part = self._setup(X, y, eval_set, sample_weight=sample_weight)
        nets, held_out, first = [], [], None
        diverged = interrupted = False
        for i, (tr, va) in enumerate(cuts):
            # Uncut (eval_set, no fraction), a net trains on every row in order: no copy of them.
            train = data if va is None else data[torch.from_numpy(tr)]
            valid = eval_part if va is None else data[torch.from_numpy(va)]
            try:
                learner = self._train_net(i, train, valid, len(cuts))
                stopped = learner.diverged or learner.interrupted
                # A later net that blew up or met Ctrl-C may hold its initial weights: the bag
                # keeps the nets that finished (net 0 is kept as a single fit would keep it).
                raw = None if stopped and nets else self._valid_raw(learner, valid)
            except KeyboardInterrupt:  # outside a training loop (setup, scoring): keep the finished nets
                if not nets:
                    raise
                self._warn_dropped(i, len(cuts), len(nets), "was interrupted")
                interrupted = True
                break
            diverged, interrupted = diverged or learner.diverged, interrupted or learner.interrupted
            if stopped and nets:
                self._warn_dropped(i, len(cuts), len(nets), learner)
                break
            nets.append(self.model_)
            first = first or (learner, train)
            if raw is not None:
                held_out.append((np.arange(len(valid)) if va is None else va, raw))
            if stopped:
                break
        if len(nets) > 1:
            self.model_config_["n_bags"] = len(nets)
            self.model_ = NetBag(nets, self.model_config_["reduce"]).eval()  # as a fitted single net
        else:
            self.model_ = nets[0]
        scored = None
        if held_out:
            rows, raw = out_of_bag(held_out, self.model_config_.get("reduce", "mean"))
            scored = ((data if eval_part is None else eval_part)[torch.from_numpy(rows)], raw)
        self._after_training(first[0], first[1], scored, fresh=True)
        self._store_history(first[0], reset=True)
        self.diverged_, self.interrupted_ = diverged, interrupted
        return self

    @staticmethod
    def _warn_dropped(i: int, n_nets: int, n_kept: int, stop: Learner | str) -> None:
        """Say that net i of a bag stopped early and was left out, and what the model holds."""
        kept = "the model is the net" if n_kept == 1 else f"the model averages the {n_kept} nets"
        if isinstance(stop, str):
            what, advice, category = stop, "", UserWarning
        elif stop.diverged:
            what, advice, category = f"diverged: {stop.stop_reason}", f". {stop.stop_advice}", DivergenceWarning
        else:
            what, advice, category = f"was {stop.stop_reason}", "", UserWarning
        warnings.warn(
            f"net {i + 1} of {n_nets} {what}; it was dropped, and {kept} trained before it{advice}",
            category,
            stacklevel=outside_tabdl(),
        )

    def _train_net(self, i: int, train: TensorData, valid: TensorData | None, n_nets: int = 1) -> Learner:
        """Net i (of ``n_nets``) of a fit, freshly built into ``model_`` and trained one cycle; its learner."""
        # One seed per net for init, dropout and batch order that leaves the global RNG
        # untouched; net 0 is the fit a single net would make (and sets model_config_).
        seed = self._net_seed(i)
        with seeded(seed, self.device_):
            if i == 0:
                self._build_model(train)
            else:
                self.model_ = self._make_model()
            progress = f"net {i + 1}/{n_nets}" if n_nets > 1 else "fit"  # verbose: which net's bar
            learner = self._cycle_learner(train, self._early_stopping(valid), seed=seed, progress=progress)
            learner.warn_on_stop = i == 0  # fit reports a later net's stop itself (it drops that net)
            learner.fit_one_cycle(train, self._epochs(), self.lr, valid=valid)
        return learner

    def _early_stopping(self, valid: TensorData | None) -> list[EarlyStopping]:
        """``patience`` stops any cycle (fit, fit_one_cycle, fine_tune) that has a validation part."""
        return [EarlyStopping(self.patience)] if self.patience and valid is not None else []

    def _sampler(self, train: TensorData, *, continued: bool = False):
        """The per-epoch index sampler of a cycle (None: plain shuffles); ``continued`` for a cycle
        after the first fit."""
        return None

    def _valid_loss(self, train: TensorData, sampler):
        """The loss that scores the validation part (None: the training loss)."""
        return None

    def _valid_raw(self, learner: Learner, valid: TensorData | None) -> torch.Tensor | None:
        """The cycle's raw outputs on its validation rows, when ``_after_training`` reads them."""
        return learner.predict_raw(valid) if valid is not None and self._tunes_on_valid() else None

    def _tunes_on_valid(self) -> bool:
        """Hook: whether ``_after_training`` tunes something on validation scores (the classifier's
        threshold="auto"); otherwise no cycle spends a predict pass on them."""
        return False

    def _after_training(
        self,
        learner: Learner,
        train: TensorData,
        scored: tuple[TensorData, torch.Tensor] | None,
        *,
        fresh: bool = False,
    ) -> None:
        """Hook run after each training cycle (the classifier tunes its decision rule here).
        ``fresh``: the cycle of ``fit`` (no rule of an earlier fit counts), not a continued one.

        ``scored``: the validation rows and the model's raw outputs on them (out of bag for a
        bag of nets), or None without a validation part or when ``_tunes_on_valid`` is False. ``learner`` and ``train``: the cycle's,
        or the first net's when a fit trained several.
        """

    def _set_feature_names(self, X: pd.DataFrame) -> None:
        check_column_names(X.columns)
        self.n_features_in_ = X.shape[1]
        if all(isinstance(c, str) for c in X.columns):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    def _fit_target(self, y: np.ndarray, w: np.ndarray | None = None) -> None:
        """Learn the target's encoding from y (and the rows' weights ``w``, where they matter)."""
        raise NotImplementedError

    def _store_history(self, learner: Learner, *, reset: bool) -> None:
        hist = learner.recorder.history
        if not len(hist.columns):  # no epoch ended (a divergence in the first): the columns all the same
            hist = pd.DataFrame(columns=[*Recorder.LOG_COLUMNS, *(m.name for m in self._metric_objects())], dtype=float)
        losses = np.asarray(learner.recorder.losses, dtype=float)
        offset = 0  # epochs of the earlier cycles: history_ numbers epochs across cycles
        held = 0  # the epoch whose weights the model held when this cycle began
        if not reset and hasattr(self, "history_"):
            # Batches of an earlier cycle count whether or not it ended an epoch.
            hist = hist.assign(step=hist["step"] + len(self.loss_curve_))
            losses = np.concatenate([self.loss_curve_, losses])
            if len(self.history_):
                held = getattr(self, "best_epoch_", 0)
                offset = int(self.history_["epoch"].max())
                hist = hist.assign(epoch=hist["epoch"] + offset)
                # A model saved before "step" was kept: its rows get theirs, not NaN.
                old = self.history_
                if "step" not in old or old["step"].isna().any():
                    old = old.assign(step=epoch_steps(old, len(self.loss_curve_)))
                hist = pd.concat([old, hist], ignore_index=True) if len(hist) else old
        self.history_ = hist
        self.loss_curve_ = losses
        # In history_'s numbering. A cycle that kept its starting weights (it diverged or met
        # Ctrl-C in its first epoch) leaves the model at the epoch it began with.
        self.best_epoch_ = offset + int(learner.best_epoch) if learner.best_epoch else held

    # >>> continuing training: freeze / unfreeze / fine_tune
    def freeze(self):
        """Freeze every layer group but the head, for the next ``fit_one_cycle`` / ``fine_tune``."""
        check_is_fitted(self, "model_")
        freeze_to(self.model_.layer_groups(), -1)
        return self

    def unfreeze(self):
        check_is_fitted(self, "model_")
        freeze_to(self.model_.layer_groups(), 0)
        return self

    def fit_one_cycle(
        self,
        X: Any,
        y: Any,
        *,
        epochs: int = 1,
        lr: float | slice | None = None,
        sample_weight: Any = None,
        eval_set: tuple[Any, ...] | None = None,
    ):
        """Train the fitted model further with one more cycle, keeping the preprocessing stats.

        Frozen layer groups (see ``freeze``) stay fixed. ``sample_weight`` and ``eval_set`` as in ``fit``.
        Without ``eval_set`` the cycle has no validation part (``validation_fraction`` serves ``fit``
        only): it keeps its last epoch, and ``patience`` and ``metrics`` warn that they read nothing.
        """
        check_is_fitted(self, "model_")
        # Bad arguments are refused before anything changes (the classifier's head for new
        # classes, MatrixFactorization's neighbour tables): the learner checks them only later.
        # The estimator's parameters too, as fit checks them: set_params after fit (a float
        # threshold, batch_size=0) otherwise reached the cycle unchecked.
        self._validate_params()
        self._check_one_row_batches(self.model_)
        check_epochs(epochs)
        group_lrs(self.lr if lr is None else lr, len(self.model_.layer_groups()))
        X, y = self._check_X_y_fit(self._check_X_predict(X), y)
        # Everything that can refuse the call runs before _adapt_target changes the model (a
        # classifier's new head, in place): a refused call must leave the fitted model as it was.
        w = self._train_weights(sample_weight, len(X))
        train = TensorData(*self.preprocessor_.transform(X), self._encode_for(y, y), _weight_tensor(w))
        valid = None if eval_set is None else self._eval_tensors(self._check_eval_set(eval_set), y)
        if valid is None:
            # As fit says it (the docs promise it for every cycle): a continued cycle never cuts
            # a validation part, so patience and metrics were ignored here without a word.
            # history_ has their columns only if an earlier cycle had a validation part.
            held = all(m.name in self.history_ for m in self._metric_objects())
            self._warn_unscored(
                "this cycle",
                _NO_VALID_CYCLE,
                "their history_ columns are NaN for its epochs" if held else "history_ holds no column for them",
                "Pass eval_set to fit_one_cycle / fine_tune",
            )
        # Ctrl-C too: the loop keeps the best weights of one it meets, and one outside it (the
        # new head, scoring) would leave the new weights beside the old history_ and rule.
        with unchanged_on_error(self, interrupt=True):
            # The cycle trains a copy, so that an error part-way (a metric that raises) leaves
            # the fitted weights as they were, not mid-cycle ones beside the old history_.
            self._own_model()
            self._adapt_target(y, w)
            with seeded(self.seed_ + len(self.history_), self.device_):
                frozen = any(not p.requires_grad for p in self.model_.parameters())
                progress = "fit_one_cycle (frozen)" if frozen else "fit_one_cycle"  # verbose: not "fit"
                learner = self._cycle_learner(train, self._early_stopping(valid), continued=True, progress=progress)
                # epochs as given: the learner refuses a non-int (int() turned 1.7 into 1 silently)
                learner.fit_one_cycle(train, epochs, self.lr if lr is None else lr, valid=valid)
            raw = self._valid_raw(learner, valid)
            self._after_training(learner, train, None if raw is None else (valid, raw))
            self._store_history(learner, reset=False)
        # Ctrl-C: fine_tune runs no further cycle
        self.diverged_, self.interrupted_ = bool(learner.diverged), bool(learner.interrupted)
        return self

    def _own_model(self) -> None:
        """Replace model_ (and its config) by copies, to change in place inside ``unchanged_on_error``."""
        self.model_ = copy.deepcopy(self.model_)
        self.model_config_ = copy.deepcopy(self.model_config_)

    def fine_tune(
        self,
        X: Any,
        y: Any,
        *,
        epochs: int = 3,
        freeze_epochs: int | None = 1,
        lr: float | slice | None = None,
        sample_weight: Any = None,
        eval_set: tuple[Any, ...] | None = None,
    ):
        """fastai's two-phase recipe for moving a fitted model to new data, on tabdl's one-cycle.

        Train the head alone for ``freeze_epochs`` at the top LR (0 or None: no frozen phase),
        then unfreeze and train all groups for ``epochs`` with discriminative LRs (``slice(lo,
        hi)`` spaces them from the embeddings to the head). Both phases are plain one-cycles
        (``pct_start`` 0.25, ``div`` 25); fastai's ``fine_tune`` also warms the frozen phase up
        over 99% of its steps, halves the LR after it and starts the unfrozen phase at ``div`` 5.
        ``lr=None`` takes the estimator's ``lr``: a float ``hi`` becomes ``slice(hi / 100, hi)``,
        as fastai's ``lr_mult=100``.
        Preprocessing stats stay those of the first fit; a classifier whose classes change gets
        a new head. ``sample_weight`` and ``eval_set`` as in ``fit``. A frozen phase that
        diverges (or is interrupted) ends the call there, with its best weights and ``diverged_``.
        """
        # Refused before the frozen phase trains: a refused call must leave the model as it was.
        check_is_fitted(self, "model_")
        self._validate_params()
        self._check_one_row_batches(self.model_)
        check_epochs(epochs)
        if freeze_epochs is None:
            freeze_epochs = 0
        if freeze_epochs != 0:
            check_epochs(freeze_epochs, "freeze_epochs")
        if lr is None:
            lr = self.lr if isinstance(self.lr, slice) else slice(self.lr / 100, self.lr)
        group_lrs(lr, len(self.model_.layer_groups()))
        top = lr.stop if isinstance(lr, slice) else lr
        # One call: an error in the unfrozen phase also undoes the frozen one (each trains a copy),
        # and freezing acts on a copy, so the model the call started from keeps its own flags.
        with unchanged_on_error(self):
            self._own_model()
            if freeze_epochs:
                self.freeze()
                held: list[warnings.WarningMessage] = []
                last = True
                try:
                    with warnings.catch_warnings(record=True) as held:
                        warnings.simplefilter("always")
                        self.fit_one_cycle(
                            X, y, epochs=freeze_epochs, lr=top, sample_weight=sample_weight, eval_set=eval_set
                        )
                    # A diverged head phase ends the call, as Ctrl-C does: the unfrozen phase ran at the
                    # same top LR (diverging again) and its diverged_ = False hid the first.
                    last = self.interrupted_ or self.diverged_
                finally:
                    self.unfreeze()
                    # threshold='auto' is tuned again after the unfrozen phase, which says itself what it
                    # could not tune: the frozen phase's word on it would only repeat (or contradict) that.
                    # The unfrozen phase, on the same eval_set, repeats the word on patience and metrics.
                    for w in held:
                        text = str(w.message)
                        if last or not (text.startswith("threshold='auto'") or _NO_VALID_CYCLE in text):
                            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
                if last:
                    return self
            self.unfreeze()  # every group trains, whatever froze them before (freeze_epochs=0 too)
            return self.fit_one_cycle(X, y, epochs=epochs, lr=lr, sample_weight=sample_weight, eval_set=eval_set)

    def _adapt_target(self, y: np.ndarray, w: np.ndarray | None = None) -> None:
        """Hook for fine_tune on new data (the classifier swaps its head for new classes); ``w``
        the new rows' weights."""

    # >>> LR finder
    def lr_find(
        self,
        X: Any,
        y: Any,
        *,
        start_lr: float = 1e-7,
        end_lr: float = 10.0,
        num_it: int = 100,
        sample_weight: Any = None,
    ) -> LRFindResult:
        """Run the LR finder. On a fitted estimator it probes the current model and restores it;
        on an unfitted one it probes a freshly initialised model and leaves the estimator unfitted.
        ``sample_weight`` weighs the rows' losses, as in ``fit``.
        """
        if hasattr(self, "model_"):
            self._validate_params()
            self._check_one_row_batches(self.model_)
            X, y = self._check_X_y_fit(self._check_X_predict(X), y)
            probe, train = self, self._tensors(X, y, self._train_weights(sample_weight, len(X)))
        else:
            probe = self.__class__(**self.get_params())
            train, _, _ = probe._setup(X, y, None, sample_weight=sample_weight, split=False)
        # Dropout draws from torch's global RNG: seeded here and put back afterwards, so a sweep
        # is repeatable and leaves the caller's random stream as it was, fitted model or not.
        with seeded(probe.seed_, probe.device_):
            if probe is not self:
                probe._build_model(train)
            result = probe._learner(len(train)).lr_find(train, start_lr=start_lr, end_lr=end_lr, num_it=num_it)
        if int(np.nanargmin(result.losses)) < max(len(result.losses) // 10, 1):
            # The suggestions then sit at start_lr (a fitted model probed at its minimum): no LR to train at.
            where = (
                "this fitted model is likely at its minimum; probe an unfitted estimator"
                if probe is self
                else "the sweep started too high: lower start_lr"
            )
            warnings.warn(
                f"lr_find: the loss never fell below its value at start_lr={start_lr:.3g}, so the suggestions "
                f"say little ({where})",
                UserWarning,
                stacklevel=outside_tabdl(),
            )
        return result

    # >>> prediction
    def _encode_X(self, X: Any) -> TensorData:
        X = self._check_X_predict(X)
        if len(X) == 1 and isinstance(X, pd.DataFrame):
            # Lean one-row path: one object row and dict lookups, no per-column pandas work. A dict
            # keeps one of two same-named columns (the batch path's transform refuses them).
            pre = self.preprocessor_
            check_unique_columns(X.columns, pre.cat_names_ + pre.cont_names_)
            if _PANDAS_2:
                # Zoned columns boxed as ``boxed`` does (pandas 2.x crashed the process boxing old
                # zoned dates). In their own zone, not UTC: a category keys its zone (a UTC spelling
                # read as unseen). Not scanned on pandas 3 (the dtype scan costs ~5 % of this path).
                zoned = [i for i, t in enumerate(X.dtypes) if isinstance(t, pd.DatetimeTZDtype) and str(t.tz) != "UTC"]
                if zoned:
                    X = X.copy(deep=False)
                    for i in zoned:
                        X.isetitem(i, pd.Series(boxed(X.iloc[:, i]), index=X.index, dtype=object))
            row = dict(zip(X.columns, X.to_numpy(dtype=object)[0]))
            return TensorData(*pre.transform_row(row))
        return TensorData(*self.preprocessor_.transform(X))

    def _raw(self, X: Any) -> torch.Tensor:
        data = self._encode_X(X)
        model = self.model_
        if len(data) == 1:
            model.eval()
            with torch.inference_mode():
                return model(data.x_cat.to(self.device_), data.x_cont.to(self.device_))
        return self._learner_for_predict().predict_raw(data)

    def _learner_for_predict(self) -> Learner:
        return Learner(self.model_, self._loss(), device=self.device_)

    def embedding_encoder(self, **params):
        """The learned embeddings as a fitted, torch-free EntityEmbeddingEncoder (see tabdl.embeddings)."""
        from .embeddings import EntityEmbeddingEncoder

        return EntityEmbeddingEncoder.from_estimator(self, **params)

    # >>> pickling (joblib, copy.deepcopy)
    def __getstate__(self) -> dict[str, Any]:
        # object.__getstate__ hands back the live __dict__: copy before replacing the model.
        state = dict(super().__getstate__())
        model = state.get("model_")
        if model is not None and any(p.device.type != "cpu" for p in model.state_dict().values()):
            # A pickled tensor keeps its device, and a CUDA tensor does not unpickle on a
            # CPU-only machine: ship a CPU copy, which __setstate__ moves back where it can.
            state["model_"] = copy.deepcopy(model).cpu()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        if "model_" in state and "device_" in state:
            device = serving_device(self.device_)
            self.device_, self.model_ = str(device), self.model_.to(device)

    # >>> a state read back by tabdl.load
    def _check_loaded(self, model: torch.nn.Module) -> None:
        """The fitted attributes this class adds agree with ``model`` and with each other, so that
        predict cannot compute with text where numbers belong; a ValueError says what disagrees.
        tabdl.io has already matched the net to its config, the preprocessor and device_."""
        raise NotImplementedError

    # >>> plots
    def plot_losses(self, ax=None):
        """Batch losses raw and EWMA-smoothed, and the validation loss per epoch."""
        from .plotting import plot_losses

        check_is_fitted(self, "loss_curve_")
        smoother = SmoothLoss()
        smooth = [smoother.update(v) for v in self.loss_curve_]
        return plot_losses(self.loss_curve_, smooth, self.history_, ax=ax)


# The docstrings' shared entries (tabdl/_docs.py), in the signature's order: cat_features' entry
# covers cont_features too.
_TABULAR_PARAMS = [
    n for n in inspect.signature(_TabularEstimator.__init__).parameters if n not in ("self", "cont_features")
]
_TABULAR_ATTRIBUTES = [
    "model_",
    "model_config_",
    "preprocessor_",
    "history_",
    "loss_curve_",
    "best_epoch_",
    "n_features_in_",
    "feature_names_in_",
    "seed_",
    "device_",
    "diverged_",
]


@fill_doc(
    tabular_parameters=entries(PARAMETERS, *_TABULAR_PARAMS),
    tabular_attributes=entries(ATTRIBUTES, *_TABULAR_ATTRIBUTES),
)
class TabularRegressor(RegressorMixin, _TabularEstimator):
    """Entity-embedding MLP regressor; one or several targets.

    Each categorical column gets its own embedding (code 0: unknown, missing and rare
    categories), concatenated with the scaled continuous columns (embedded too, see
    ``num_embeddings``) and fed to an MLP. ``fit`` trains with the one-cycle policy and keeps the
    epoch of the lowest validation loss; ``fit_one_cycle`` and ``fine_tune`` continue training,
    ``lr_find`` sweeps learning rates, ``save`` writes one zip that ``tabdl.load`` reads back.

    Targets are standardised internally and mapped back at predict time; predictions are clipped
    to the range of the training targets, where an MLP would extrapolate linearly.

    Parameters
    ----------
    y_range : (float, float) or None, default=None
        ``(low, high)``, finite, with low < high: the net's output passes through a sigmoid
        scaled to this range. One target only (several are a ``ValueError`` at fit); a
        ``UserWarning`` says when training targets fall outside the range. None: no squashing.
        Either way predictions are clipped to ``[y_min_, y_max_]``.
    {tabular_parameters}

    Attributes
    ----------
    n_outputs_ : int
        Number of targets (columns of y).
    y_mean_, y_std_ : ndarray of shape (n_outputs_,)
        The mean and standard deviation (1 where it is 0) of the targets given to ``fit``,
        weighted by ``sample_weight`` over the rows of weight > 0: the net learns
        ``(y - y_mean_) / y_std_``.
    y_min_, y_max_ : ndarray of shape (n_outputs_,)
        The clip range of predictions: the range of the targets given to ``fit`` (rows of
        weight > 0), widened by the targets of continued training.
    {tabular_attributes}

    See Also
    --------
    TabularClassifier : The same net for class labels.
    EntityEmbeddingEncoder : The learned embeddings as a transformer for trees
        (``embedding_encoder()`` hands out this net's).
    MatrixFactorization : User and item factors for ratings.
    tabdl.load : Read back a model written by ``save``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from tabdl import TabularRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"color": rng.choice(["red", "green", "blue"], 200),
    ...                   "size": rng.normal(size=200)})
    >>> y = 2 * X["size"] + (X["color"] == "red")
    >>> reg = TabularRegressor(epochs=3, n_bags=1, random_state=0).fit(X, y)
    >>> reg.predict(X.head(3)).shape
    (3,)
    >>> reg.history_["epoch"].tolist()
    [1, 2, 3]
    """

    _task = "regression"

    def __init__(self, *, y_range: tuple[float, float] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.y_range = y_range

    __init__ = _with_base_params(__init__, _TabularEstimator.__init__)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    @staticmethod
    def _float_target(y: np.ndarray) -> np.ndarray:
        """y as float64 (n, n_outputs), refused when complex, non-numeric or infinite."""
        if np.iscomplexobj(y):
            raise ValueError("Complex data not supported: y is complex")
        try:
            y = y.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError("TabularRegressor needs a numeric target y") from None
        if not np.isfinite(y).all():
            raise ValueError("y contains +/-inf")
        return y.reshape(len(y), -1)

    def _fit_target(self, y: np.ndarray, w: np.ndarray | None = None) -> None:
        self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        y2 = self._float_target(y)
        # Row weights count here too: targets of rows weighted 0 (junk, say) set neither the
        # scale the net learns in nor the clip range.
        seen = y2 if w is None else y2[w > 0]
        self.y_mean_, std = mean_std(seen, None if w is None else w[w > 0])
        self.y_std_ = np.where(std > 0, std, 1.0)
        # Predictions are clipped to the target range seen at fit: an MLP extrapolates linearly
        # on inputs far outside the training data (diamonds' x=y=z=0 rows gave log-prices of
        # 22 before this), where a tree would stay inside the observed range.
        self.y_min_, self.y_max_ = seen.min(axis=0), seen.max(axis=0)
        _check_y_range(self.y_range)
        if self.y_range is not None and y2.shape[1] == 1:
            _warn_if_outside_y_range(self.y_range, seen[:, 0], "training targets")

    def _adapt_target(self, y: np.ndarray, w: np.ndarray | None = None) -> None:
        # Continued training (fine_tune on new data) keeps the scaling stats the net learned in,
        # but the clip range must take in the targets it now trains on: it capped every
        # prediction at the first fit's maximum, however far the new data went.
        y2 = self._float_target(y)  # its number of targets was checked when it was encoded
        seen = y2 if w is None else y2[w > 0]
        self.y_min_, self.y_max_ = np.minimum(self.y_min_, seen.min(axis=0)), np.maximum(self.y_max_, seen.max(axis=0))

    def _y_range_scaled(self):
        if self.y_range is None:
            return None
        if self.n_outputs_ != 1:
            raise ValueError("y_range supports a single target")
        lo, hi = self.y_range
        return (float((lo - self.y_mean_[0]) / self.y_std_[0]), float((hi - self.y_mean_[0]) / self.y_std_[0]))

    def _encode_target(self, y: np.ndarray) -> torch.Tensor:
        y2 = self._float_target(np.asarray(y))
        if y2.shape[1] != self.n_outputs_:  # it broadcast: a 2-column eval y scored a 1-target net
            raise ValueError(f"y has {y2.shape[1]} target(s), but the model was fitted with {self.n_outputs_}")
        return torch.from_numpy(((y2 - self.y_mean_) / self.y_std_).astype(np.float32))

    def _n_out(self) -> int:
        return self.n_outputs_

    def _check_loaded(self, model: torch.nn.Module) -> None:
        n, n_out = self.n_outputs_, self.model_config_.get("n_out")
        if not is_count(n) or n != n_out:
            raise ValueError(f"n_outputs_ is {n!r}; the net has {n_out} outputs")
        for key in ("y_mean_", "y_std_", "y_min_", "y_max_"):
            _check_numbers(self, key, (n,))

    def _loss(self) -> torch.nn.Module:
        return MSELoss()

    def _unscale(self, out: np.ndarray) -> np.ndarray:
        return out.astype(np.float64) * self.y_std_ + self.y_mean_

    def _to_output(self, out: torch.Tensor) -> np.ndarray:
        return np.clip(self._unscale(out.float().cpu().numpy()), self.y_min_, self.y_max_)

    def _to_target(self, y: torch.Tensor) -> np.ndarray:
        return self._unscale(y.cpu().numpy())

    def predict(self, X: Any) -> np.ndarray:
        pred = self._to_output(self._raw(X))
        return pred[:, 0] if self.n_outputs_ == 1 else pred


@fill_doc(
    tabular_parameters=entries(PARAMETERS, *_TABULAR_PARAMS),
    tabular_attributes=entries(ATTRIBUTES, *_TABULAR_ATTRIBUTES),
)
class TabularClassifier(ClassifierMixin, _TabularEstimator):
    """Entity-embedding MLP classifier for binary and multiclass targets.

    The net and its training are TabularRegressor's, with a softmax head and the cross-entropy
    loss. ``classes_`` holds the sorted class labels; ``predict_proba`` columns follow that order.

    Class imbalance (see ``tabdl.sampling``; Buda et al. 2018) has four handles: re-sampling the
    epochs (``sampling``, ``undersample_ratio``), weighting the loss (``class_weight``), and a
    decision rule tuned on validation rows (``threshold``, ``threshold_metric``). Samplers draw
    row indices per epoch; no data is copied. With sampling or class weights the best epoch is
    chosen by the validation log loss of the prior-corrected probabilities (Bayes' rule back to
    the data's class shares: ``history_["valid_loss"]``, ``tabdl.sampling.PriorCorrectedLoss``);
    ``predict_proba`` stays the model's own probabilities.

    With several nets (``n_bags``), ``threshold="auto"`` is tuned out of bag: each validation
    row is scored by the nets that held it out, so the rule sees about 40 % of the rows with
    five nets instead of 10 %. Those scores come from one or two nets, a little more extreme
    than the whole bag's average that ``predict`` cuts, so the cut can sit slightly high; on
    churn's validation splits it still matched or beat a cut tuned on a shared validation part
    (benchmarks/results/imbalance.md, round 5).

    Parameters
    ----------
    sampling : {None, "oversample", "undersample"}, default=None
        Re-sampling of the training rows, drawn afresh every epoch. "oversample": balanced
        epochs of n rows (minority rows repeated evenly, a fresh majority subset each epoch),
        after a warm-up: the first ``epochs // 2`` epochs of ``fit`` train on the data as it is
        (deferred re-sampling, Cao et al. 2019), do not compete for the kept weights, and
        ``patience`` counts from their end; continued cycles (``fit_one_cycle``, ``fine_tune``)
        oversample from their first epoch. Oversampling trains with label smoothing 0.05
        (repeated rows are otherwise memorised; imbalance.md). "undersample": every class capped
        at ``undersample_ratio`` times the smallest class (1:1 trained 2.7-6x faster, with AUC
        within 0.005 of plain training). Unequal ``sample_weight`` is refused with either (a
        ``ValueError``): ``class_weight="balanced"`` balances the weights instead.
    undersample_ratio : float >= 1, default=1.0
        For ``sampling="undersample"``: the majority:minority ratio after sampling (1.0 balances
        the classes; classes under the cap keep all their rows). A ``UserWarning`` says when an
        epoch keeps fewer than ``min(100, n_train // 2)`` rows. Checked, but unused, with the
        other ``sampling`` choices.
    class_weight : None, "balanced" or dict {label: weight}, default=None
        Weights of the classes in the training loss (multiplied with ``sample_weight``).
        "balanced": scikit-learn's ``n_samples / (n_classes * bincount(y))``, with the rows'
        ``sample_weight`` summed per class when given; with ``sampling``, of the class counts
        it draws per epoch (so all 1 after oversampling), not balancing the classes twice. A
        dict leaves the classes it does not name at 1; weights must be finite and > 0. Kept in
        ``classes_`` order as ``class_weight_``.
    threshold : None, "auto" or float in (0, 1), default=None
        The decision rule of ``predict`` (``predict_proba`` is always the model's own
        probabilities). None: the most probable class. A float (binary targets only): predict
        ``classes_[1]`` when its probability is >= the float. "auto": tuned after each training
        cycle on the validation part only (``validation_fraction`` or ``eval_set``, never
        training rows; a ``ValueError`` at fit without one) to maximise ``threshold_metric``.
        Binary: the cut on P(classes_[1]) that maximises the metric's expected value once the
        validation probabilities are Platt-calibrated (``tabdl.sampling.tune_threshold``; for
        F1, Lipton et al.'s half-the-best-F1 rule). Multiclass: prior correction,
        ``argmax(proba / prior**a)`` with ``prior`` the class shares the loss saw in training
        (after sampling and class weights) and ``a`` in [0, 1] tuned. The rule in use is
        ``threshold_`` / ``class_scale_``; a continued cycle without ``eval_set`` keeps the rule
        it found, and warns.
    threshold_metric : str or callable, default="f1"
        What ``threshold="auto"`` maximises (validated whatever ``threshold`` is, used only by
        "auto"): "f1" (of ``classes_[1]``, the label that sorts last, and ``fit`` warns when it
        is the larger class; macro over the classes of a multiclass target),
        "balanced_accuracy", "mcc" or "accuracy", weighted by the validation rows'
        ``sample_weight``; or a callable ``f(y_true, y_pred)`` of class codes 0..k-1 (binary:
        code 1 is ``classes_[1]``), higher is better, such as ``partial(fbeta_score, beta=2)``.
        A binary cut for a callable is not calibrated: it is the best cut of the validation
        labels themselves, read through a moving average over neighbouring cuts.
    {tabular_parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The sorted class labels; ``predict_proba``'s columns follow this order. Continued
        training on a y holding other labels gives the net a fresh head for y's own classes.
    class_weight_ : ndarray of shape (n_classes,) or None
        The loss weights of ``class_weight`` in ``classes_`` order; None without class weights.
    threshold_ : float or None
        The binary cut ``predict`` applies to P(classes_[1]) (``threshold`` as a float, or the
        tuned one); None: no cut (argmax, or ``class_scale_``).
    class_scale_ : ndarray of shape (n_classes,) or None
        The multiclass rule of ``threshold="auto"``: ``predict`` takes
        ``argmax(proba * class_scale_)``, ``class_scale_`` being ``prior**-a`` scaled to mean 1;
        None otherwise.
    {tabular_attributes}

    See Also
    --------
    TabularRegressor : The same net for numeric targets.
    EntityEmbeddingEncoder : The learned embeddings as a transformer for trees.
    tabdl.sampling.tune_threshold : The binary cut of ``threshold="auto"``.
    tabdl.load : Read back a model written by ``save``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from tabdl import TabularClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"color": rng.choice(["red", "green", "blue"], 200),
    ...                   "size": rng.normal(size=200)})
    >>> y = np.where(X["size"] + (X["color"] == "red") > 1, "yes", "no")
    >>> clf = TabularClassifier(epochs=3, n_bags=1, threshold="auto", random_state=0).fit(X, y)
    >>> clf.classes_.tolist()
    ['no', 'yes']
    >>> clf.predict_proba(X.head(3)).shape
    (3, 2)
    >>> isinstance(clf.threshold_, float)  # the tuned cut on P("yes")
    True
    """

    _task = "classification"

    def __init__(
        self,
        *,
        sampling: str | None = None,
        undersample_ratio: float = 1.0,
        class_weight: str | dict | None = None,
        threshold: str | float | None = None,
        threshold_metric: str = "f1",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.sampling = sampling
        self.undersample_ratio = undersample_ratio
        self.class_weight = class_weight
        self.threshold = threshold
        self.threshold_metric = threshold_metric

    __init__ = _with_base_params(__init__, _TabularEstimator.__init__)

    def _validate_params(self) -> None:
        super()._validate_params()
        check_sampling(self.sampling, self.undersample_ratio)
        check_threshold(self.threshold, self.threshold_metric)

    def _train_weights(self, sample_weight: Any, n_rows: int) -> np.ndarray | None:
        w = super()._train_weights(sample_weight, n_rows)
        # A sampler balances row counts: the weights would multiply on top and leave the classes'
        # weighted shares unequal, and an oversampled small heavy class made batch losses so
        # large that the divergence guard fired (both found by review).
        if w is not None and self.sampling is not None:
            raise ValueError(
                f"sampling={self.sampling!r} balances the classes' row counts and does not combine with "
                "sample_weight; use class_weight='balanced' (it sums the weights per class), or drop sample_weight"
            )
        return w

    def _fit_target(self, y: np.ndarray, w: np.ndarray | None = None) -> None:
        from sklearn.utils.multiclass import type_of_target

        kind = type_of_target(y)
        if kind not in ("binary", "multiclass"):
            hint = ""
            if kind == "unknown" and y.dtype == object and len(y):
                # pd.Series([True, False, None]).dropna() keeps object dtype: say what it holds
                types = sorted({type(v).__name__ for v in y[:1000]})
                hint = f" (an object array of {', '.join(types)}: convert it, e.g. y.astype({types[0]}))"
            raise ValueError(
                f"Unknown label type: TabularClassifier supports binary and multiclass y, got {kind!r}{hint}"
            )
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(
                f"TabularClassifier needs at least 2 classes in y, got 1 class ({_label(self.classes_[0])!r})"
            )
        weighted = self.classes_ if w is None else np.unique(np.asarray(y)[w > 0])
        if len(weighted) < 2:
            raise ValueError(
                f"TabularClassifier needs at least 2 classes with sample_weight > 0, got 1 class "
                f"({_label(weighted[0])!r}); the other classes' rows all weigh 0"
            )
        self._check_decision_rule(self.classes_)
        self.class_weight_ = self._class_weights(y, self.classes_, w)

    def _class_weights(self, y: np.ndarray, classes: np.ndarray, w: np.ndarray | None) -> np.ndarray | None:
        """``class_weight`` for y's rows; "balanced" balances the classes as ``sampling`` draws them."""
        return class_weights(self.class_weight, y, classes, w, sampling=self.sampling, ratio=self.undersample_ratio)

    def _tunes_on_valid(self) -> bool:
        return self.threshold == "auto"

    def _check_validation(self, has_valid: bool, y: np.ndarray, w: np.ndarray | None) -> None:
        if self.threshold == "auto" and not has_valid:
            raise ValueError(
                "threshold='auto' is tuned on a validation part, never on training rows: set "
                "validation_fraction (e.g. 0.1, and enough rows for it) or pass eval_set"
            )
        super()._check_validation(has_valid, y, w)
        warn_if_accuracy_misleading(self.metrics, y, sample_weight=w)
        # tabdl's own F1 (a name or METRICS' object), not a user's callable that happens to be named so
        ours = (str, Metric)
        f1_uses = ["metrics=['f1']" for m in self.metrics or () if isinstance(m, ours) and get_metric(m).name == "f1"]
        if (
            self.threshold == "auto"
            and isinstance(self.threshold_metric, ours)
            and get_metric(self.threshold_metric).name == "f1"
        ):
            f1_uses.append("threshold='auto' with threshold_metric='f1'")
        warn_if_f1_scores_the_majority(f1_uses, y, sample_weight=w)

    def _sampler(self, train: TensorData, *, continued: bool = False):
        plain = 0 if continued else int(OVERSAMPLE_DEFER * self._epochs())
        sampler = make_sampler(
            train.y, self.sampling, ratio=self.undersample_ratio, n_classes=len(self.classes_), plain_epochs=plain
        )
        if self.sampling == "undersample" and len(sampler) < min(UNDERSAMPLE_FLOOR, len(train) // 2):
            counts = np.array([len(rows) for rows in sampler.groups])
            small = int(np.argmin(np.where(counts > 0, counts, np.iinfo(np.int64).max)))
            warnings.warn(
                f"sampling='undersample' keeps {len(sampler)} of {len(train)} rows per epoch: every class is "
                f"capped at undersample_ratio x the smallest class, {_label(self.classes_[small])!r} with "
                f"{counts[small]} row(s). Raise undersample_ratio, or use class_weight or 'oversample'",
                UserWarning,
                stacklevel=outside_tabdl(),
            )
        return sampler

    def _valid_loss(self, train: TensorData, sampler):
        # Sampling or class weights shift the prior the net learns; the best epoch is chosen by
        # the log loss of the prior-corrected probabilities (see PriorCorrectedLoss).
        return prior_corrected_loss(
            train.y.cpu().numpy(),
            len(self.classes_),
            sampler,
            self.class_weight_,
            None if train.w is None else train.w.cpu().numpy(),
        )

    def _after_training(
        self,
        learner: Learner,
        train: TensorData,
        scored: tuple[TensorData, torch.Tensor] | None,
        *,
        fresh: bool = False,
    ) -> None:
        if self.threshold != "auto":
            self.threshold_ = None if self.threshold is None else float(self.threshold)
            self.class_scale_ = None
            return
        if scored is None:  # a continued cycle without eval_set: fit refuses "auto" without validation rows
            if getattr(self, "threshold_", None) is not None:
                rule = f"keeps the cut tuned before it (threshold_={self.threshold_:.3g}), which the new weights may not suit"
            elif getattr(self, "class_scale_", None) is not None:
                rule = "keeps the class scaling tuned before it, which the new weights may not suit"
            else:
                rule = "takes the most probable class (threshold_ = None)"
            warnings.warn(
                f"threshold='auto' is tuned on validation rows, and this cycle had none: predict {rule}; "
                "pass eval_set to fit_one_cycle / fine_tune to tune it again",
                UserWarning,
                stacklevel=outside_tabdl(),
            )
            return
        valid, raw = scored
        proba = self._to_output(raw)
        y, wv = valid.y.cpu().numpy(), None
        if valid.w is not None:  # the rule weighs the validation rows too; rows of weight 0 are none
            wv = valid.w.cpu().numpy().astype(np.float64)
            keep = wv > 0
            proba, y, wv = proba[keep], y[keep], wv[keep]
        if len(self.classes_) == 2:
            self.class_scale_ = None
            if len(np.unique(y)) < 2:
                # Every cut scores alike on rows of one class: a "tuned" cut landed in the middle
                # of the flat curve and labelled about half of new rows positive. A cut tuned
                # before (continued training) is kept.
                kept = None if fresh else getattr(self, "threshold_", None)
                rule = "keeps its cut" if kept is not None else "takes the most probable class (threshold_ = None)"
                warnings.warn(
                    f"threshold='auto': the validation rows hold only class {_label(self.classes_[y[0]])!r}, so no cut "
                    f"can be tuned and predict {rule}; pass an eval_set with both classes or a larger "
                    "validation_fraction",
                    UserWarning,
                    stacklevel=outside_tabdl(),
                )
                self.threshold_ = kept
            else:
                self.threshold_ = tune_threshold(y, proba[:, 1], self.threshold_metric, sample_weight=wv)
        else:
            codes = train.y.cpu().numpy()
            w = None if train.w is None else train.w.cpu().numpy()
            priors = training_priors(codes, len(self.classes_), learner.sampler, self.class_weight_, w)
            self.threshold_ = None
            # A class whose training rows all weighed 0 was never learned: the rule never predicts it.
            unlearned = None if w is None else (np.bincount(codes, minlength=len(priors)) > 0) & (priors == 0)
            self.class_scale_ = tune_prior_correction(
                y, proba, priors, self.threshold_metric, unlearned=unlearned, sample_weight=wv
            )

    def _encode_target(self, y: np.ndarray, classes: np.ndarray | None = None) -> torch.Tensor:
        classes = self.classes_ if classes is None else classes
        # By hash, not by order: labels of another type (ints against the classes' text, from a
        # CSV) cannot be compared with them, and np.searchsorted raised a bare TypeError.
        y = np.asarray(y).ravel()
        codes = pd.Index(classes).get_indexer(y)
        unknown = codes < 0
        if np.any(unknown):  # as Python compares them: 1 == True, 2.0 == 2 (pandas keeps bools apart)
            codes[unknown] = pd.Index(classes, dtype=object).get_indexer(y[unknown].astype(object))
            unknown = codes < 0
        if np.any(unknown):
            bad = pd.unique(y[unknown])
            kind = _label_kind(classes[0])
            hint = ""
            if {_label_kind(v) for v in bad} - {kind}:
                hint = f"; the classes are {'text' if kind == 'text' else 'numbers'}, such as {_label(classes[0])!r}: convert y to that type"
            raise ValueError(f"y holds labels not seen at fit: {[_label(v) for v in bad[:10]]}{hint}")
        return torch.from_numpy(codes.astype(np.int64))

    def _classes_after(self, y: np.ndarray) -> np.ndarray:
        """The classes continued training on ``y`` gives: the fitted ones while y holds no other
        label (new rows may lack a rare class, and the head stays: replacing it dropped the missing
        classes from classes_ for good), else y's own (a fresh head)."""
        classes = np.unique(y)
        if np.isin(classes, self.classes_).all():
            return self.classes_
        # The fitted labels in another type (text "1" for the int 1, from a CSV) are not new
        # classes: a fresh head would silently throw the learned one away.
        fitted = set(category_keys(pd.Series(self.classes_, dtype=object)))
        known = np.isin(classes, self.classes_)
        respelled = [
            c
            for c, k, is_known in zip(classes, category_keys(pd.Series(classes, dtype=object)), known)
            if not is_known and fitted.intersection(key_spellings(k))
        ]  # "1.0" for 1.0, "1" for True
        if respelled:
            c = respelled[0]
            kind, fitted_kind = _label_kind(c), _label_kind(self.classes_[0])
            hint = (
                f"the model's classes are {fitted_kind}, such as {_label(self.classes_[0])!r}: convert y to that type"
                if kind != fitted_kind
                else f"map y's labels onto classes_ {[_label(v) for v in self.classes_[:10]]}"
            )
            raise ValueError(
                f"y holds {_label(c)!r} ({kind}), another spelling of a class the model was fitted on; {hint} "
                "(other labels would be new classes, and replace the trained head)"
            )
        return classes

    def _encode_for(self, y_new: np.ndarray, y: np.ndarray) -> torch.Tensor:
        return self._encode_target(y_new, self._classes_after(y))

    def _check_decision_rule(self, classes: np.ndarray) -> None:
        """The decision rule fits the classes: a float cut needs two, and a callable
        ``threshold_metric`` is tried on the class codes before training (fbeta_score's binary
        average on a multiclass target failed only once the whole fit was done)."""
        if self.threshold not in (None, "auto") and len(classes) != 2:
            raise ValueError(f"a float threshold needs a binary target, got {len(classes)} classes; use 'auto'")
        metric = self.threshold_metric
        if self.threshold == "auto" and len(classes) > 2 and callable(metric) and not isinstance(metric, Metric):
            codes = np.arange(len(classes))
            try:
                metric(codes, codes)
            except (ValueError, TypeError) as e:
                raise ValueError(
                    f"threshold_metric {getattr(metric, '__name__', metric)!r} cannot score {len(classes)} classes "
                    f"({e}); pass one that averages over classes, e.g. partial(fbeta_score, beta=2, average='macro')"
                ) from None

    def _adapt_target(self, y: np.ndarray, w: np.ndarray | None = None) -> None:
        classes = self._classes_after(y)
        self._check_decision_rule(classes)
        if classes is self.classes_:
            # The cycle weighs its own rows by the current class_weight, as its sampler draws them
            # by the current sampling (a set_params(class_weight=...) after fit was ignored).
            self.class_weight_ = self._class_weights(y, classes, w)
            return
        # New classes: keep the body and embeddings, give the net a fresh head, weights and rule.
        weights = self._class_weights(y, classes, w)  # may raise: before any state changes
        self.classes_ = classes
        self.class_weight_ = weights
        self.threshold_ = self.class_scale_ = None
        self.model_config_["n_out"] = len(classes)
        with seeded(self.seed_, self.device_):
            for net in getattr(self.model_, "nets", [self.model_]):  # every net of a NetBag
                old, k = net.head[0], net.k
                d_in = old.in_features if k == 1 else old.weight.shape[1]
                new = torch.nn.Linear(d_in, len(classes)) if k == 1 else ensemble_head(d_in, len(classes), k)
                net.head[0] = new.to(old.weight.device)

    def _n_out(self) -> int:
        return len(self.classes_)

    def _check_loaded(self, model: torch.nn.Module) -> None:
        classes = self.classes_
        if not isinstance(classes, np.ndarray) or classes.ndim != 1:
            raise ValueError("classes_ is not a 1-D array")
        for key in ("class_weight_", "class_scale_"):
            if getattr(self, key, None) is not None:
                _check_numbers(self, key, (len(classes),))
        if getattr(self, "threshold_", None) is not None and not is_number(self.threshold_):
            raise ValueError(f"threshold_ is {self.threshold_!r}, not a number")

    def _loss(self) -> torch.nn.Module:
        w = getattr(self, "class_weight_", None)
        return CrossEntropyLoss(
            weight=None if w is None else torch.tensor(w, dtype=torch.float32, device=self.device_),
            label_smoothing=label_smoothing(self.sampling),  # oversampled rows repeat: tabdl.sampling
        )

    def _to_output(self, out: torch.Tensor) -> np.ndarray:
        # float64, as scikit-learn's classifiers give: float32 rows summed to 1 only within
        # 2e-7, and sklearn's log_loss warns about that once the caller casts them to float64.
        return torch.softmax(out.cpu().double(), dim=1).numpy()

    def _to_target(self, y: torch.Tensor) -> np.ndarray:
        return y.cpu().numpy()

    def predict_proba(self, X: Any) -> np.ndarray:
        return self._to_output(self._raw(X))

    def predict(self, X: Any) -> np.ndarray:
        """Labels by the decision rule of ``threshold`` (argmax unless one was set or tuned)."""
        proba = self.predict_proba(X)  # first, so an unfitted model raises NotFittedError
        rule = getattr(self, "threshold_", None), getattr(self, "class_scale_", None)
        return self.classes_[decide(proba, *rule)]
