"""Tabular preprocessing: column roles, vocabularies, missing values and scaling -> tensors.

Everything learned here is plain data (lists, floats, strings) so it travels in a JSON file and
inference uses the very same vocabularies, fill values and scaling stats as training.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
import torch
from scipy.special import ndtri

from .columns import (
    arrow_labels,
    as_frame,
    category_codes,
    category_keys,
    check_unique_columns,
    date_values,
    holds_datetimes,
    holds_quantities,
    lookup_code,
    mean_std,
    numeric_values,
    scalar_number,
)
from .guards import is_number

__all__ = ["TabularPreprocessor", "auto_min_category_count", "emb_size_rule", "rare_signal_f"]

Scaler = Literal[
    "standard",  # (x - mean) / std
    "quantile",  # rank-gauss: empirical quantiles mapped to a standard normal (robust to outliers)
    "none",  # raw values
]

# min_category_count="auto": a category is kept when it holds 1% of the training rows, with the
# bar clipped to [3, 100] (3 keeps small data's categories; 100 is LightGBM's min_data_per_group).
# Why relative to n: on the validation parts of the visible tasks (benchmarks/results/ablation.md)
# folding rarer categories lifted full flights from AUC 0.717 to 0.764 (tailnum's rare planes,
# whose embeddings the net memorises) and churn's mean over 4 splits from 0.914 to 0.919, while a
# fixed 100 would fold every category of a few-hundred-row table.
AUTO_MIN_SHARE, AUTO_MIN_COUNT, AUTO_MAX_COUNT = 0.01, 3, 100


def auto_min_category_count(n_rows: int) -> int:
    """The rare-category bar of ``min_category_count="auto"`` for ``n_rows`` training rows."""
    return int(min(AUTO_MAX_COUNT, max(AUTO_MIN_COUNT, round(AUTO_MIN_SHARE * n_rows))))


# With a target, "auto" keeps a column's rare categories (those between AUTO_MIN_COUNT and the
# bar) when they carry signal: the one-way ANOVA F of the target over them is at least
# RARE_SIGNAL_F, i.e. their target means vary at least twice as much as sampling noise alone
# would make them. Why: the fold is there against memorising noise (flights' rare planes:
# F = 1.5), but it wiped out a mid-cardinality column with a real effect per level (300 cities
# of ~50 rows each: F = 24-28, test RMSE 1.38 folded vs 1.03 kept; benchmarks/results/ablation.md).
RARE_SIGNAL_F = 2.0


def rare_signal_f(groups: np.ndarray, y: np.ndarray) -> float:
    """One-way ANOVA F of ``y`` over integer ``groups`` (n,), the largest over y's columns.

    ``y``: floats (n,) or (n, m), or integer class codes (n,), read as one-hot columns without
    building them (a count per (group, class) pair: O(n) memory for any number of classes).
    NaN when it is undefined (fewer than 2 groups, or no within-group degrees of freedom).
    """
    counts = np.bincount(groups).astype(np.float64)
    used = counts > 0
    n, g = len(groups), int(used.sum())
    if g < 2 or n <= g:
        return math.nan
    y = np.asarray(y)
    # Per target column j: total = sum of y_j, squares = sum of y_j^2, explained = sum over
    # groups of (group sum of y_j)^2 / group size.
    if y.dtype.kind in "iub":
        n_classes = int(y.max()) + 1
        pairs, pair_n = np.unique(groups.astype(np.int64) * n_classes + y, return_counts=True)
        explained = np.bincount(pairs % n_classes, weights=pair_n**2 / counts[pairs // n_classes], minlength=n_classes)
        total = squares = np.bincount(y, minlength=n_classes).astype(np.float64)
    else:
        cols = y.astype(np.float64).reshape(n, -1).T
        sums = [np.bincount(groups, weights=c)[used] for c in cols]
        explained = np.array([(s**2 / counts[used]).sum() for s in sums])
        total, squares = np.array([s.sum() for s in sums]), (cols**2).sum(axis=1)
    between, within = explained - total**2 / n, squares - explained
    with np.errstate(divide="ignore", invalid="ignore"):
        f = (between / (g - 1)) / (within / (n - g))
    # No noise within the groups at all: any spread between them is all signal.
    f = np.where(within > 1e-12 * np.maximum(squares, 1.0), f, np.where(between > 0, math.inf, math.nan))
    return float(np.nanmax(f)) if not np.isnan(f).all() else math.nan


# Rank-gauss output is clipped to the normal quantiles of [EPS, 1 - EPS] (about +/-5.2).
_QUANTILE_EPS = 1e-7

# The net computes in float32: a scaled value beyond this is +/-inf there, and its output NaN.
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_N_QUANTILES = 1000


def categorical_column(col: pd.Series) -> bool:
    """The rule for columns that ``cat_features`` does not name: categorical or not. Object
    columns of dates, times, durations, Decimals or floats are quantities (``holds_quantities``)."""
    dtype = col.dtype
    if pd.api.types.is_object_dtype(dtype):
        return not holds_quantities(col)
    return (
        isinstance(dtype, pd.CategoricalDtype)
        or arrow_labels(dtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
        or isinstance(dtype, (pd.PeriodDtype, pd.IntervalDtype))  # labels, not quantities
    )


# A continuous column that never varied at fit taught the net nothing: whatever it holds at
# predict must not move the output (it was fed through weights that only ever saw one input, at
# the scaler's clip value). Kept in its scaling stats; files saved without these keys read as before.
_PIN_KEYS = ("constant", "all_missing")


def _pins(filled: np.ndarray, missing: np.ndarray) -> dict[str, bool]:
    """The pins of one column's rows: its filled values never vary, its values are all missing."""
    pins = {}
    if filled.min() == filled.max():
        pins["constant"] = True
    if missing.all():
        pins["all_missing"] = True
    return pins


def emb_size_rule(n_cat: int, max_params: int = 2**24) -> int:
    """fastai's rule, min(600, 1.6 n^0.56), capped so that one table holds at most max_params.

    The cap keeps a 1M-level column at a 16-wide table (64 MB of weights) instead of 600-wide
    (2.4 GB, and three times that again for AdamW's state).
    """
    size = min(600, round(1.6 * n_cat**0.56))
    return int(max(1, min(size, max_params // max(n_cat, 1))))


def _resolve(spec: Sequence[Any] | None, columns: list[Any], name: str) -> list[Any] | None:
    """Turn names or positions in cat_features / cont_features into column labels."""
    if spec is None:
        return None
    if isinstance(spec, (str, int, np.integer)):
        spec = [spec]
    spec = list(spec)
    if len(spec) and all(isinstance(s, (bool, np.bool_)) for s in spec):
        if len(spec) != len(columns):
            raise ValueError(f"{name} as a boolean mask needs {len(columns)} entries, got {len(spec)}")
        return [c for c, m in zip(columns, spec) if m]
    out = []
    for s in spec:
        if s in columns:
            out.append(s)
        elif isinstance(s, (int, np.integer)) and not isinstance(s, bool) and -len(columns) <= s < len(columns):
            out.append(columns[s])
        else:
            raise ValueError(f"{name} names column {s!r}, which is not in X (columns: {columns[:20]})")
    return out


def _dates_in_numbers(name: Any) -> ValueError:
    # Read as seconds since the epoch (1.7e9), a date lands far beyond the numbers the column
    # held at fit, and its prediction says nothing: refused, by the batch and one-row paths alike.
    return ValueError(f"continuous column {name!r} held numbers at fit and holds dates here; convert it as at fit")


def _check_state(d: Any) -> None:
    """``d`` (``to_dict``'s, read back from a file) holds what transform reads: a ValueError says
    what disagrees (a crafted or damaged file otherwise failed at predict, deep in numpy)."""
    if not isinstance(d, dict) or not isinstance(d.get("params"), dict):
        raise ValueError("state['preprocessor'] is not a preprocessor's state")
    scaler = d["params"].get("scaler")
    if scaler not in get_args(Scaler):
        raise ValueError(f"the preprocessor's scaler is {scaler!r}")
    for key in ("columns", "cat_names", "cont_names", "vocabs", "fills", "has_indicator", "stats"):
        if not isinstance(d.get(key), list):
            raise ValueError(f"the preprocessor's {key}_ is not a list")
    cats, conts, vocabs, fills, flags, stats = (
        d[k] for k in ("cat_names", "cont_names", "vocabs", "fills", "has_indicator", "stats")
    )
    if not set(cats + conts) <= set(d["columns"]):
        raise ValueError("the preprocessor's categorical and continuous columns are not among its columns")
    if len(vocabs) != len(cats):
        raise ValueError(f"the preprocessor has {len(vocabs)} vocabularies for {len(cats)} categorical columns")
    for j, vocab in enumerate(vocabs):
        if not isinstance(vocab, list) or not all(isinstance(k, str) for k in vocab):
            raise ValueError(f"the preprocessor's vocabulary {j} is not a list of strings")
        if len(set(vocab)) != len(vocab):  # pandas refuses to look codes up in it, at predict
            raise ValueError(f"the preprocessor's vocabulary {j} holds a category twice")
    if not len(fills) == len(flags) == len(stats) == len(conts):
        raise ValueError(
            f"the preprocessor's fills ({len(fills)}), indicators ({len(flags)}) "
            f"and stats ({len(stats)}) do not match its {len(conts)} continuous columns"
        )
    for c, fill, flag, st in zip(conts, fills, flags, stats):
        if not is_number(fill) or not isinstance(flag, bool):
            raise ValueError(f"the preprocessor's fill or indicator of column {c!r} is not a number / bool")
        ok = isinstance(st, dict)
        if ok and scaler == "standard":
            ok = is_number(st.get("mean")) and is_number(st.get("std"))
        elif ok and scaler == "quantile":
            q, r = st.get("quantiles"), st.get("references")
            ok = (
                isinstance(q, list)
                and isinstance(r, list)
                and 0 < len(q) == len(r)
                and all(map(is_number, q))
                and all(map(is_number, r))
            )
        if not ok:
            raise ValueError(f"the preprocessor's stats of column {c!r} do not fit scaler={scaler!r}")


class TabularPreprocessor:
    """Fitted column roles, vocabularies, fills and scaling; turns frames into tensors.

    Categorical codes: 0 is unknown/missing/rare, 1..n the sorted vocabulary. Categories seen
    fewer than ``min_category_count`` times are folded into 0 so the unknown vector is trained
    on real rows instead of staying at its random init. ``"auto"``: 1% of the rows, clipped to
    [3, 100] (``auto_min_category_count``); the bar in use is ``min_category_count_``. Given a
    target ``y`` at fit, "auto" keeps a column's categories down to 3 rows when those rarer than
    the bar carry signal (``rare_signal_f`` >= ``RARE_SIGNAL_F``); such columns are listed in
    ``rare_kept_``.
    """

    def __init__(
        self,
        *,
        cat_features: Sequence[Any] | None = None,
        cont_features: Sequence[Any] | None = None,
        min_category_count: int | Literal["auto"] = 3,
        scaler: Scaler = "quantile",
        max_emb_params: int = 2**24,
    ):
        self.cat_features = cat_features
        self.cont_features = cont_features
        self.min_category_count = min_category_count
        self.scaler = scaler
        self.max_emb_params = max_emb_params

    # >>> fit
    def fit(self, X: Any, y: Any = None) -> TabularPreprocessor:
        """Learn roles, vocabularies, fills and scaling from X.

        ``y`` (optional, one row per row of X: floats, or integer class codes) only serves
        ``min_category_count="auto"``'s test of whether rare categories carry signal.
        """
        X = as_frame(X)
        if X.shape[0] == 0:
            raise ValueError("X is empty: found 0 rows, a minimum of 1 is required")
        if X.shape[1] == 0:
            raise ValueError(f"X has 0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
        if self.scaler not in get_args(Scaler):
            raise ValueError(f"scaler must be 'standard', 'quantile' or 'none', got {self.scaler!r}")
        mcc = self.min_category_count
        if isinstance(mcc, str) and mcc == "auto":
            mcc = auto_min_category_count(X.shape[0])
        elif isinstance(mcc, (bool, np.bool_)) or not isinstance(mcc, (int, np.integer)) or mcc < 1:
            raise ValueError(f"min_category_count must be an int >= 1 or 'auto', got {mcc!r}")
        check_unique_columns(X.columns)
        columns = list(X.columns)
        cats = _resolve(self.cat_features, columns, "cat_features")
        conts = _resolve(self.cont_features, columns, "cont_features")
        if cats is not None and conts is not None and set(cats) & set(conts):
            both = sorted(set(cats) & set(conts), key=str)
            raise ValueError(f"columns {both} are in both cat_features and cont_features")
        if cats is None:
            cats = [c for c in columns if (conts is None or c not in conts) and categorical_column(X[c])]
        if conts is None:
            conts = [c for c in columns if c not in cats]
        self.columns_ = columns
        self.min_category_count_ = int(mcc)
        self.cat_names_ = cats
        self.cont_names_ = conts

        signal = None
        if y is not None and isinstance(self.min_category_count, str) and mcc > AUTO_MIN_COUNT:
            signal = np.asarray(y)
            if len(signal) != X.shape[0]:
                raise ValueError(f"y has {len(signal)} rows, X has {X.shape[0]}")
        self.vocabs_: list[list[str]] = []
        self.rare_kept_: list[Any] = []
        for c in cats:
            keys = category_keys(X[c])
            vc = pd.Series(keys[pd.notna(keys)]).value_counts()
            bar = self.min_category_count_
            if signal is not None:
                rare = vc.index[(vc.to_numpy() < bar) & (vc.to_numpy() >= AUTO_MIN_COUNT)]
                rows = pd.Index(rare).get_indexer(keys)  # -1 outside the rare categories
                if len(rare) >= 2 and rare_signal_f(rows[rows >= 0], signal[rows >= 0]) >= RARE_SIGNAL_F:
                    bar = AUTO_MIN_COUNT
                    self.rare_kept_.append(c)
            kept = vc.index[vc.to_numpy() >= bar]
            self.vocabs_.append(sorted(str(k) for k in kept))

        self.fills_: list[float] = []
        self.has_indicator_: list[bool] = []
        self.stats_: list[dict[str, Any]] = []
        for c in conts:
            v = numeric_values(X[c], c, date_advice=True)
            nan = np.isnan(v)
            ok = v[~nan]
            fill = float(np.median(ok)) if ok.size else 0.0
            filled = np.where(nan, fill, v)
            self.fills_.append(fill)
            self.has_indicator_.append(bool(nan.any()))
            # "datetime": predict reads ISO 8601 text in this column as dates (a CSV holds them so).
            dates = {"datetime": True} if holds_datetimes(X[c]) else {}
            self.stats_.append({**self._fit_scaler(filled), **_pins(filled, nan), **dates})
        self._build_lookups()
        return self

    def _fit_scaler(self, v: np.ndarray) -> dict[str, Any]:
        if self.scaler == "standard":
            mean, std = mean_std(v)
            return {"mean": float(mean), "std": float(std) if std > 0 else 1.0}
        if self.scaler == "quantile":
            n_q = int(min(_N_QUANTILES, v.size))
            refs = np.linspace(0, 1, n_q)
            return {"quantiles": np.quantile(v, refs).tolist(), "references": refs.tolist()}
        return {}

    def _build_lookups(self) -> None:
        # pandas' hash index maps many keys to codes at C speed; dicts serve the one-row path.
        self._index = [pd.Index(v, dtype=object) for v in self.vocabs_]
        self._dicts = [{k: i + 1 for i, k in enumerate(v)} for v in self.vocabs_]
        self._quant = [
            (np.asarray(s["quantiles"]), np.asarray(s["references"])) if "quantiles" in s else None for s in self.stats_
        ]
        self._index_pins()

    # >>> properties used by the model
    @property
    def cardinalities_(self) -> list[int]:
        """Rows of each embedding table: the vocabulary plus the unknown code 0."""
        return [len(v) + 1 for v in self.vocabs_]

    @property
    def cont_out_names_(self) -> list[str]:
        names = [str(c) for c in self.cont_names_]
        names += [f"{c}_na" for c, ind in zip(self.cont_names_, self.has_indicator_) if ind]
        return names

    @property
    def n_cont_out_(self) -> int:
        return len(self.cont_names_) + sum(self.has_indicator_)

    def emb_sizes(self, overrides: dict[Any, int] | None = None) -> list[int]:
        overrides = overrides or {}
        unknown = set(overrides) - set(self.cat_names_)
        if unknown:
            raise ValueError(f"emb_sizes names {sorted(unknown, key=str)}, which are not categorical columns")
        sizes = []
        for c, n in zip(self.cat_names_, self.cardinalities_):
            size = overrides.get(c, emb_size_rule(n, self.max_emb_params))
            if not isinstance(size, (int, np.integer)) or size < 1:
                raise ValueError(f"emb_sizes[{c!r}] must be a positive int, got {size!r}")
            sizes.append(int(size))
        return sizes

    # >>> transform
    def _select(self, X: pd.DataFrame) -> pd.DataFrame:
        needed = self.cat_names_ + self.cont_names_
        missing = [c for c in needed if c not in X.columns]
        if missing:
            raise ValueError(f"X is missing column(s) {missing} that were present at fit")
        check_unique_columns(X.columns, needed)
        return X

    def release_pins(self, X: Any) -> None:
        """Unpin the columns that vary in ``X``: rows that other nets of a bag train on.

        ``fit`` pins a column that never varied on its rows (see there); a bag fits the
        preprocessing on its first net's training rows, and a column that varies only in that
        net's validation rows still taught the other nets something.
        """
        X = self._select(as_frame(X))
        for j, c in enumerate(self.cont_names_):
            if not any(self._pinned[j]):
                continue
            v = numeric_values(X[c], c)
            nan = np.isnan(v)
            pins = _pins(np.where(nan, self.fills_[j], v), nan)
            for key in _PIN_KEYS:
                if key not in pins:
                    self.stats_[j].pop(key, None)
        self._index_pins()

    def _index_pins(self) -> None:
        # Per continuous column (constant, all_missing) and whether it held datetimes, read once
        # per value on the one-row path.
        self._pinned = [tuple(bool(s.get(k, False)) for k in _PIN_KEYS) for s in self.stats_]
        self._dates = [bool(s.get("datetime", False)) for s in self.stats_]

    def _scale(self, j: int, v: np.ndarray) -> np.ndarray:
        s = self.stats_[j]
        if self.scaler == "standard":
            return self._in_float32(j, (v - s["mean"]) / s["std"])
        if self.scaler == "quantile":
            q, r = self._quant[j]
            # Average of the forward and reversed interpolation, as scikit-learn does, so
            # repeated quantiles (discrete columns) map to the middle of their rank range.
            u = 0.5 * (np.interp(v, q, r) - np.interp(-v, -q[::-1], -r[::-1]))
            return ndtri(np.clip(u, _QUANTILE_EPS, 1 - _QUANTILE_EPS))
        return self._in_float32(j, v)

    def _in_float32(self, j: int, v: np.ndarray) -> np.ndarray:
        """``v`` (column j scaled), or a ValueError naming the column where it overflows float32
        (the quantile scaler's output is bounded): those rows were NaN predictions, silently."""
        big = np.abs(v).max(initial=0.0) if isinstance(v, np.ndarray) else abs(float(v))  # one row: a scalar
        if big > _FLOAT32_MAX:
            raise ValueError(
                f"column {self.cont_names_[j]!r} holds a value that is {big:.3g} after "
                f"scaler={self.scaler!r}, beyond float32's range (the net's): rescale the column, "
                "or use scaler='quantile', which clips"
            )
        return v

    def transform(self, X: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (codes int64 (n, n_cat), values float32 (n, n_cont_out))."""
        X = self._select(as_frame(X))
        n = len(X)
        codes = np.zeros((n, len(self.cat_names_)), dtype=np.int64)
        for j, c in enumerate(self.cat_names_):
            codes[:, j] = category_codes(X[c], self._index[j])
        cols, inds = [], []
        for j, c in enumerate(self.cont_names_):
            constant, all_missing = self._pinned[j]
            if constant:  # its values are not read (text included), only whether they are missing
                nan = X[c].isna().to_numpy()
                cols.append(self._scale(j, np.full(n, self.fills_[j])))
            else:
                if self._dates[j]:
                    v = date_values(X[c], c)
                elif holds_datetimes(X[c]) and X[c].notna().any():  # NaT alone is missing, as one row reads it
                    raise _dates_in_numbers(c)
                else:
                    v = numeric_values(X[c], c)
                nan = np.isnan(v)
                cols.append(self._scale(j, np.where(nan, self.fills_[j], v)))
            if self.has_indicator_[j]:
                inds.append(np.ones(n) if all_missing else nan.astype(np.float64))
        values = np.stack(cols + inds, axis=1) if cols else np.zeros((n, 0))
        return torch.from_numpy(codes), torch.from_numpy(values.astype(np.float32))

    def transform_row(self, row: dict[Any, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """The lean path for one row given as {column: value}: dict lookups, no pandas."""
        missing = [c for c in self.cat_names_ + self.cont_names_ if c not in row]
        if missing:
            raise ValueError(f"X is missing column(s) {missing} that were present at fit")
        codes = [lookup_code(self._dicts[j], row[c]) for j, c in enumerate(self.cat_names_)]
        vals, inds = [], []
        for j, c in enumerate(self.cont_names_):
            v = row[c]
            constant, all_missing = self._pinned[j]
            if constant:  # as in transform: only whether the value is missing
                nan = pd.api.types.is_scalar(v) and bool(pd.isna(v))
                vals.append(float(self._scale(j, np.float64(self.fills_[j]))))
            else:
                if self._dates[j] and isinstance(v, str):  # ISO 8601 text, read as the batch reads it
                    v = date_values(pd.Series([v], dtype=object), c)[0]
                elif not self._dates[j] and isinstance(v, (datetime.date, np.datetime64)) and not pd.isna(v):
                    raise _dates_in_numbers(c)
                try:
                    v = scalar_number(v)
                except (TypeError, ValueError):
                    raise ValueError(f"continuous column {c!r} holds a non-numeric value {v!r}") from None
                if math.isinf(v):
                    raise ValueError(f"column {c!r} contains +/-inf; replace it with NaN or a finite value")
                nan = math.isnan(v)
                vals.append(float(self._scale(j, np.float64(self.fills_[j] if nan else v))))
            if self.has_indicator_[j]:
                inds.append(1.0 if all_missing else float(nan))
        return (
            torch.tensor([codes], dtype=torch.int64).reshape(1, len(codes)),
            torch.tensor([vals + inds], dtype=torch.float32).reshape(1, len(vals) + len(inds)),
        )

    # >>> plain-data state for tabdl.io
    def to_dict(self) -> dict[str, Any]:
        return {
            "params": {
                "min_category_count": self.min_category_count
                if isinstance(self.min_category_count, str)
                else int(self.min_category_count),
                "scaler": self.scaler,
                "max_emb_params": int(self.max_emb_params),
            },
            "columns": self.columns_,
            # (a preprocessor pickled before "auto" existed has only the int parameter)
            "min_category_count": getattr(self, "min_category_count_", self.min_category_count),
            "rare_kept": getattr(self, "rare_kept_", []),
            "cat_names": self.cat_names_,
            "cont_names": self.cont_names_,
            "vocabs": self.vocabs_,
            "fills": self.fills_,
            "has_indicator": self.has_indicator_,
            "stats": self.stats_,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TabularPreprocessor:
        _check_state(d)
        pre = cls(**d["params"])
        pre.columns_ = d["columns"]
        pre.min_category_count_ = int(d.get("min_category_count", pre.min_category_count))
        pre.rare_kept_ = list(d.get("rare_kept", []))
        pre.cat_names_ = d["cat_names"]
        pre.cont_names_ = d["cont_names"]
        pre.vocabs_ = d["vocabs"]
        pre.fills_ = d["fills"]
        pre.has_indicator_ = d["has_indicator"]
        pre.stats_ = d["stats"]
        pre._build_lookups()
        return pre

    def __getstate__(self) -> dict[str, Any]:
        # Lookups are derived; rebuild them on unpickle instead of pickling pandas indexes.
        return {k: v for k, v in self.__dict__.items() if k not in ("_index", "_dicts", "_quant", "_pinned")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if "vocabs_" in state:
            self._build_lookups()
