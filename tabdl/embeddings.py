"""EntityEmbeddingEncoder: a net's learned entity embeddings as a torch-free scikit-learn transformer.

Guo & Berkhahn (2016) fed the embeddings a net learned for each categorical column to random
forests and GBMs. Here a fitted encoder holds only numpy tables and the preprocessor's
vocabularies, so ``transform`` is a key lookup plus ``np.take`` and never imports torch; torch is
imported only when ``fit`` trains a net. ``tabdl/__init__.py`` loads its names lazily for the
same reason: unpickling a fitted encoder must not pull torch in.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, is_classifier
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.extmath import svd_flip
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from .columns import (
    as_frame,
    category_codes,
    check_column_names,
    date_values,
    numeric_values,
    refuse_missing_target,
    row_as_frame,
    tabular_tags,
)
from .guards import check_positive, is_count, unchanged_on_error
from .io import SaveMixin

__all__ = ["EntityEmbeddingEncoder", "UNKNOWN"]

# Row 0 of every table: unknown, missing and rare (folded at fit) categories share this vector.
UNKNOWN = "<unknown>"

# Rows per block of the transform output (see _encode).
_BLOCK_ROWS = 2048

# Parameters of the inner net that the encoder owns itself.
_OWN_PARAMS = ("cat_features", "cont_features", "min_category_count", "random_state")


class EntityEmbeddingEncoder(SaveMixin, TransformerMixin, BaseEstimator):
    """Replace each categorical column by the embedding vectors a TabularNet learned for it.

    ``fit(X, y)`` trains a ``TabularRegressor`` or ``TabularClassifier`` on (X, y) and keeps only
    its embedding tables (numpy) and vocabularies; ``TabularRegressor.embedding_encoder()`` (or
    ``from_estimator``) does the same from a net you already fitted.

    Parameters
    ----------
    task : {"auto", "regression", "classification"}
        The net trained by ``fit``. "auto" reads it from y with ``type_of_target`` (binary and
        multiclass -> classification, continuous -> regression); integer targets with many values
        read as multiclass, so set "regression" for counts.
    cat_features, cont_features : column names/positions or None
        Column roles, passed to the net's preprocessor (None: object / str / category / bool
        columns are categorical, the others continuous).
    min_category_count : int or "auto", default 100
        Rare-category fold: categories seen fewer times at fit share the unknown vector. Higher
        than the estimators' "auto" (1% of the rows, clipped to [3, 100]) because a forest or GBM fitted on the same rows trusts a
        rare category's vector, which the net fitted to those very rows' labels (target leakage,
        as with an in-sample target encoding). On validation parts of the training split, 100
        beat 20 on flights (LightGBM AUC 0.729 -> 0.752 on 60k rows, tailnum's rare planes) and on
        churn (0.913 -> 0.920, states of ~60 rows each), and changed nothing on diamonds (no
        category that rare); see ``benchmarks/results/embeddings_leakage.md``. A column whose
        categories are all that rare is folded whole: its output is constant, and ``fit`` warns.
    remainder : {"passthrough", "drop"}
        What happens to the continuous columns: raw values (NaN kept) after the embeddings, or
        nothing. Columns in neither role are always dropped.
    cv : None, int or CV splitter
        Out-of-fold embeddings in ``fit_transform`` (in the spirit of scikit-learn's
        TargetEncoder): each fold's rows get vectors from a net fitted without them, rotated onto
        the full net's tables by orthogonal Procrustes. The fold nets learn the encoder's
        categories (its rare ones as unknown; ``min_category_count`` is not applied again to a
        fold's fewer rows). The encoder itself is always the net fitted on all rows, so
        ``fit(X, y).transform(X)`` differs from ``fit_transform(X, y)``.
        None (default) skips it: on validation rows it lost to the rare-category fold on flights
        and hurt LightGBM on diamonds and churn (``benchmarks/results/embeddings_leakage.md``).
    estimator_params : dict or None
        Parameters of the inner TabularRegressor/TabularClassifier (``epochs``, ``layers``,
        ``emb_sizes`` ...), but not those the encoder sets itself (``cat_features``,
        ``cont_features``, ``min_category_count``, ``random_state``: a ``ValueError``; set them on
        the encoder). A plain dict, not an estimator object, so a
        pickled encoder never references torch-backed classes. The inner net is one net
        (``n_bags=1``) unless this sets ``n_bags``; only the first net's tables are exported.
        ``set_params(estimator_params__epochs=5)`` sets one of them (a grid search reaches them so).
    axes : {"principal", "net"}, default "principal"
        Coordinates of the exported vectors. "principal": each table is centred and rotated onto
        its principal axes (PCA over its rows, the unknown vector included), so axis 0 is the
        direction along which the column's categories differ most. Distances between categories
        are unchanged, but a forest splits one axis at a time, and the net's own axes are an
        arbitrary rotation that spreads one direction over every axis. "net": the net's raw
        coordinates, ``transform`` returns ``tables_`` rows as they are.
    n_components : None, int or float in (0, 1], default None
        Principal axes kept per column (``axes="principal"`` only): an int keeps at most that
        many, a float the fewest whose share of the column's variance reaches it, None all of
        them (nothing lost).
    dtype : float dtype
        Output dtype. float32 matches the tables and what forests use internally.
    random_state : None, int or RandomState
        Seed of the inner net(s) and of the cv shuffling.

    Attributes
    ----------
    task_ : "regression" or "classification"
    columns_ : list, the column labels of the X given to fit, in order
    cat_features_, cont_features_ : column labels of each role
    date_features_ : the continuous columns that held datetimes at fit (``remainder="passthrough"``
        writes them as seconds since the epoch, and reads ISO 8601 text in them as dates)
    vocabs_ : list of list of str, the sorted category keys of each categorical column
    tables_ : list of float32 arrays (len(vocab) + 1, dim); row 0 is the unknown vector. The
        net's embedding weights as they are, whatever ``axes``.
    centers_, components_ : lists of float32 arrays (dim,) and (dim, k), or None
        With ``axes="principal"``, a category's exported vector is
        ``(tables_[j][code] - centers_[j]) @ components_[j]``; None with ``axes="net"``. The
        components are orthonormal axes by decreasing variance, except that axes beyond the
        table's rank (more dims than categories) are zero, so their output columns are exactly 0.
    embeddings_ : dict {column: DataFrame category -> vector}, first row labelled ``UNKNOWN``: the
        vectors ``transform`` writes, in the coordinates ``axes`` chose (``tables_`` holds the raw ones).
        The index holds the category keys of ``vocabs_``, as strings (the int category 5 is ``"5"``,
        as ``most_similar`` returns it too)
    n_features_in_, feature_names_in_
    """

    def __init__(
        self,
        *,
        task: Literal["auto", "regression", "classification"] = "auto",
        cat_features: Sequence[Any] | None = None,
        cont_features: Sequence[Any] | None = None,
        min_category_count: int = 100,
        remainder: Literal["passthrough", "drop"] = "passthrough",
        cv: Any = None,
        estimator_params: dict[str, Any] | None = None,
        axes: Literal["principal", "net"] = "principal",
        n_components: int | float | None = None,
        dtype: Any = np.float32,
        random_state: Any = None,
    ):
        self.task = task
        self.cat_features = cat_features
        self.cont_features = cont_features
        self.min_category_count = min_category_count
        self.remainder = remainder
        self.cv = cv
        self.estimator_params = estimator_params
        self.axes = axes
        self.n_components = n_components
        self.dtype = dtype
        self.random_state = random_state

    def set_params(self, **params: Any) -> EntityEmbeddingEncoder:
        """scikit-learn's ``set_params``, plus ``estimator_params__<name>`` for one parameter of
        the inner net (``GridSearchCV`` over ``{"enc__estimator_params__epochs": [5, 10]}``):
        ``estimator_params`` is a plain dict, which scikit-learn cannot reach into."""
        inner = {k.split("__", 1)[1]: params.pop(k) for k in [k for k in params if k.startswith("estimator_params__")]}
        if inner:  # a new dict: a clone's parameters are never shared with the original's
            params["estimator_params"] = {**(params.get("estimator_params", self.estimator_params) or {}), **inner}
        return super().set_params(**params)

    def __sklearn_tags__(self):
        tags = tabular_tags(super().__sklearn_tags__(), self.random_state)
        tags.target_tags.required = True
        tags.transformer_tags.preserves_dtype = []  # the output dtype is the ``dtype`` parameter
        return tags

    # >>> validation
    def _validate_params(self) -> None:
        if self.task not in ("auto", "regression", "classification"):
            raise ValueError(f"task must be 'auto', 'regression' or 'classification', got {self.task!r}")
        if self.remainder not in ("passthrough", "drop"):
            raise ValueError(f"remainder must be 'passthrough' or 'drop', got {self.remainder!r}")
        if self.estimator_params is not None and not isinstance(self.estimator_params, dict):
            raise ValueError(f"estimator_params must be None or a dict, got {type(self.estimator_params).__name__}")
        clash = sorted(set(self.estimator_params or {}) & set(_OWN_PARAMS))
        if clash:
            raise ValueError(f"estimator_params must not set {clash}: they are EntityEmbeddingEncoder parameters")
        if self.axes not in ("principal", "net"):
            raise ValueError(f"axes must be 'principal' or 'net', got {self.axes!r}")
        k = self.n_components
        if k is not None:
            if isinstance(k, bool) or not isinstance(k, numbers.Real):
                ok = False
            elif isinstance(k, numbers.Integral):
                ok = k >= 1
            else:
                ok = 0 < k <= 1
            if not ok:
                raise ValueError(f"n_components must be None, an int >= 1 or a float in (0, 1], got {k!r}")
            if self.axes != "principal":
                raise ValueError("n_components needs axes='principal': the net's own axes have no order to cut")
        try:
            ok = np.dtype(self.dtype).kind == "f"
        except TypeError:
            ok = False
        if not ok:
            raise ValueError(f"dtype must be a float dtype such as np.float32, got {self.dtype!r}")
        cv = self.cv
        if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
            ok = cv >= 2
        else:  # a splitter, or an iterable of (train, test) splits; not a bool, float or string
            ok = cv is None or (not isinstance(cv, (str, bytes)) and (hasattr(cv, "split") or hasattr(cv, "__iter__")))
        if not ok:
            raise ValueError(f"cv must be None, an int >= 2 or a CV splitter, got {cv!r}")

    def _resolve_task(self, y: Any) -> str:
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None: "
                "the embeddings are learned by a net trained to predict y"
            )
        if self.task != "auto":
            return self.task
        # Before type_of_target: it called labels with a missing one "Unknown label type", and
        # printed the whole y; the net's fit says what is wrong, but only once the task is known.
        refuse_missing_target(np.asarray(y.to_numpy() if isinstance(y, (pd.Series, pd.DataFrame)) else y))
        kind = type_of_target(y, input_name="y", raise_unknown=True)
        if kind in ("binary", "multiclass"):
            return "classification"
        if kind in ("continuous", "continuous-multioutput"):
            return "regression"
        raise ValueError(f"cannot infer the task from y of type {kind!r}: set task='regression' or 'classification'")

    # >>> fitting
    def _make_net(self, task: str, **overrides: Any):
        from .estimators import TabularClassifier, TabularRegressor  # torch: needed to fit only

        cls = TabularClassifier if task == "classification" else TabularRegressor
        net = cls(**{k: getattr(self, k) for k in _OWN_PARAMS})
        # One net unless estimator_params asks for a bag: only the first net's tables are exported.
        return net.set_params(**{"n_bags": 1, **(self.estimator_params or {}), **overrides})

    def fit(self, X: Any, y: Any, sample_weight: Any = None):
        """Train a net on (X, y) and keep its embedding tables and vocabularies.
        ``sample_weight`` weighs the rows' losses, as in the estimators' ``fit``."""
        with unchanged_on_error(self):  # a refused refit keeps the fitted encoder
            return self._fit(X, y, sample_weight)

    def _fit(self, X: Any, y: Any, sample_weight: Any) -> EntityEmbeddingEncoder:
        self._validate_params()
        X = as_frame(X)
        check_column_names(X.columns)  # a ValueError, as the estimators' (validate_data: a TypeError)
        validate_data(self, X, reset=True, skip_check_array=True)
        if X.shape[1] == 0:
            raise ValueError(f"0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
        task = self._resolve_task(y)
        net = self._make_net(task).fit(X, y, sample_weight=sample_weight)
        self._take_from(net)
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator: Any,
        *,
        remainder: str = "passthrough",
        axes: str = "principal",
        n_components: int | float | None = None,
        dtype: Any = np.float32,
    ):
        """A fitted encoder holding the embeddings of a fitted TabularRegressor/TabularClassifier.

        Its parameters reproduce the net (``clone(enc).fit(X, y)`` trains the same kind of net).
        """
        check_is_fitted(estimator, "model_")
        own = {k: getattr(estimator, k) for k in _OWN_PARAMS}
        params = {k: v for k, v in estimator.get_params().items() if k not in own}
        # A bag's first net is the one-net fit and the only one exported: a refit trains just it.
        params["n_bags"] = 1
        task = "classification" if is_classifier(estimator) else "regression"
        enc = cls(
            task=task,
            remainder=remainder,
            estimator_params=params,
            axes=axes,
            n_components=n_components,
            dtype=dtype,
            **own,
        )
        enc._validate_params()
        enc.n_features_in_ = estimator.n_features_in_
        if hasattr(estimator, "feature_names_in_"):
            enc.feature_names_in_ = estimator.feature_names_in_
        enc._take_from(estimator)
        return enc

    def _take_from(self, net: Any) -> None:
        pre = net.preprocessor_
        self.task_ = "classification" if is_classifier(net) else "regression"
        self.columns_ = list(pre.columns_)
        self.cat_features_ = list(pre.cat_names_)
        self.cont_features_ = list(pre.cont_names_)
        self.date_features_ = [c for c, s in zip(pre.cont_names_, pre.stats_) if s.get("datetime")]
        self.vocabs_ = [list(v) for v in pre.vocabs_]
        self.tables_ = [t.weight.detach().cpu().numpy().astype(np.float32, copy=True) for t in net.model_.embeds.tables]
        if self.axes == "principal":
            fitted = [_principal_axes(t, self.n_components) for t in self.tables_]
            self.centers_ = [c for c, _ in fitted]
            self.components_ = [p for _, p in fitted]
        else:
            self.centers_ = self.components_ = None
        self._build_lookups()

    def _export(self, tables: list[np.ndarray]) -> list[np.ndarray]:
        """Raw net tables -> the vectors ``transform`` writes (see ``axes``)."""
        if getattr(self, "components_", None) is None:
            return tables
        return [((t - c) @ p).astype(np.float32) for t, c, p in zip(tables, self.centers_, self.components_)]

    # >>> transform
    def _check_loaded(self) -> None:
        """Refuse read-back fitted attributes that do not fit together (``tabdl.load`` calls it, as
        each estimator checks its own): a lookup would otherwise index past a table, or hand out
        NaN vectors."""
        vocabs, cats, tables = self.vocabs_, self.cat_features_, self.tables_
        # The columns transform selects by: it otherwise failed deep in pandas (KeyError) or Python.
        columns, conts, n = self.columns_, self.cont_features_, self.n_features_in_
        if not isinstance(columns, list) or not is_count(n) or len(columns) != n:
            raise ValueError(f"columns_ is not a list of the n_features_in_ ({str(n)[:20]}) fitted columns")
        names = getattr(self, "feature_names_in_", None)
        if names is not None and not (isinstance(names, np.ndarray) and names.shape == (n,)):
            raise ValueError(f"feature_names_in_ is not an array of the {n} fitted columns' names")
        dates = getattr(self, "date_features_", [])  # absent from encoders saved before it
        if not (isinstance(cats, list) and isinstance(conts, list) and isinstance(dates, list)):
            raise ValueError("cat_features_, cont_features_ and date_features_ are not lists of columns")
        if not set(cats + conts) <= set(columns) or not set(dates) <= set(conts):
            raise ValueError("cat_features_ / cont_features_ / date_features_ are not among the fitted columns")
        if not (
            isinstance(vocabs, list) and all(isinstance(v, list) and all(isinstance(k, str) for k in v) for v in vocabs)
        ):
            raise ValueError("the encoder's vocabs_ is not a list of lists of strings")
        if any(len(set(v)) != len(v) for v in vocabs):  # pandas refuses to look codes up in them
            raise ValueError("the encoder's vocabs_ holds a category twice")
        if not isinstance(cats, list) or not len(cats) == len(vocabs) == len(tables):
            raise ValueError(f"the tables ({len(tables)}), the vocabularies and the categorical columns do not match")
        for j, (t, vocab) in enumerate(zip(tables, vocabs)):
            if t.dtype not in (np.float32, np.float64) or t.ndim != 2 or len(t) != len(vocab) + 1:
                raise ValueError(
                    f"table {j} is {t.dtype} {t.shape}; its vocabulary needs float32 "
                    f"({len(vocab) + 1}, dim): one row per category and one for unknowns"
                )
            if not np.isfinite(t).all():
                raise ValueError(f"table {j} holds NaN or inf values")
        centers, components = self.centers_, self.components_
        if (centers is None) != (components is None) or (centers is None) != (self.axes == "net"):
            raise ValueError(f"centers_ / components_ do not fit axes={self.axes!r}")
        if centers is None:
            return
        if not (
            isinstance(centers, list)
            and isinstance(components, list)
            and len(centers) == len(components) == len(tables)
        ):
            raise ValueError(f"centers_ / components_ are not lists of {len(tables)} arrays")
        for j, (c, p, t) in enumerate(zip(centers, components, tables)):
            dim = t.shape[1]
            if not (
                isinstance(c, np.ndarray)
                and isinstance(p, np.ndarray)
                and c.dtype.kind == "f"
                and p.dtype.kind == "f"
                and c.shape == (dim,)
                and p.ndim == 2
                and p.shape[0] == dim
                and p.shape[1] <= dim
            ):
                raise ValueError(f"centers_[{j}] / components_[{j}] do not fit table {j}'s {dim} dims")

    def _build_lookups(self) -> None:
        # pandas' hash index maps keys to codes at C speed; derived from vocabs_, so it is rebuilt
        # on unpickling instead of being pickled. So are the exported tables: centres and axes
        # pickle far smaller than a second copy of every table.
        self._lookups = [pd.Index(v, dtype=object) for v in self.vocabs_]
        self._out_tables = self._export(self.tables_)

    def _frame(self, X: Any, named: bool | None = None) -> pd.DataFrame:
        """Columns by name when fitted with names, by position otherwise. ``validate_data`` has
        already refused other names, order or width, as scikit-learn transformers do (the
        estimators, unlike it, select reordered and extra columns by name)."""
        if named is None:  # whether the caller's X had names: an array's column numbers are not
            named = isinstance(X, pd.DataFrame)
        X = as_frame(X)
        by_name = hasattr(self, "feature_names_in_") and all(isinstance(c, str) for c in X.columns)
        if by_name:
            return X
        # validate_data checks string names only: int or tuple names in another order were read
        # by position, silently. Refused as a reorder of string names is.
        if named and list(X.columns) != list(self.columns_) and set(X.columns) == set(self.columns_):
            raise ValueError(
                f"X holds the fitted columns in another order: {list(X.columns)}, fitted as "
                f"{list(self.columns_)}; select them in that order"
            )
        return X.set_axis(self.columns_, axis=1)

    def _encode(self, X: pd.DataFrame, tables: list[np.ndarray], lookups: list[pd.Index]) -> np.ndarray:
        n = len(X)
        n_cont = len(self.cont_features_) if self.remainder == "passthrough" else 0
        out = np.empty((n, sum(t.shape[1] for t in tables) + n_cont), dtype=self.dtype)
        codes = [category_codes(X[c], vocab) for c, vocab in zip(self.cat_features_, lookups)]
        tables = [t.astype(self.dtype, copy=False) for t in tables]  # np.take(out=) needs one dtype
        bounds = np.cumsum([0] + [t.shape[1] for t in tables])
        # Row blocks keep each block of the (wide, row-major) output in cache while every table
        # writes its slice of it: measured 2x faster than one whole-column np.take per table.
        for lo in range(0, n, _BLOCK_ROWS):
            hi = min(lo + _BLOCK_ROWS, n)
            for j, table in enumerate(tables):
                # Codes are in range by construction, so mode="clip" skips numpy's bounds buffering.
                np.take(table, codes[j][lo:hi], axis=0, out=out[lo:hi, bounds[j] : bounds[j + 1]], mode="clip")
        start = bounds[-1]
        if self.remainder == "passthrough":
            dates = getattr(self, "date_features_", ())  # absent from encoders saved before it
            # A float64 output holds every value; a narrower one is checked (one pass per column).
            top = np.finfo(self.dtype).max if np.dtype(self.dtype).itemsize < 8 else None
            for k, c in enumerate(self.cont_features_):
                v = date_values(X[c], c) if c in dates else numeric_values(X[c], c)
                # The cast to dtype made such a value inf with only numpy's RuntimeWarning, where
                # an inf in X is refused by name.
                big = None if top is None else np.abs(v) > top
                if big is not None and big.any():
                    raise ValueError(
                        f"column {c!r} holds {v[big][0]:.3g}, beyond the range of the output dtype "
                        f"{np.dtype(self.dtype).name}: rescale the column, or pass dtype=np.float64"
                    )
                out[:, start + k] = v
        return out

    def transform(self, X: Any) -> np.ndarray:
        """Embedding vectors of each categorical column, then the raw continuous columns."""
        check_is_fitted(self, "tables_")
        row = row_as_frame(X, self.columns_)
        named = isinstance(row, pd.DataFrame)
        frame = as_frame(row)
        validate_data(self, frame, reset=False, skip_check_array=True)
        out = self._encode(self._frame(frame, named), self._out_tables, self._lookups)
        if row is not X and isinstance(X, pd.Series) and _get_output_config("transform", self)["dense"] == "pandas":
            # One row as a Series: scikit-learn's pandas wrapper would take its index (the column
            # names) as the rows'; a frame keeps the row's own label.
            return pd.DataFrame(out, index=frame.index)
        return out

    def fit_transform(self, X: Any, y: Any = None, sample_weight: Any = None) -> np.ndarray:
        """Fit on all rows; return out-of-fold embeddings for X when ``cv`` is set (each fold's net
        trains on its rows' ``sample_weight``, as ``fit``'s net on all of them)."""
        self.fit(X, y, sample_weight)
        frame = self._frame(X)
        if self.cv is None or not self.cat_features_:
            return self._encode(frame, self._out_tables, self._lookups)
        return self._out_of_fold(frame, y, sample_weight)

    def _out_of_fold(self, X: pd.DataFrame, y: Any, sample_weight: Any) -> np.ndarray:
        from sklearn.model_selection import KFold, StratifiedKFold, check_cv

        from .estimators import _row_weights, _seed

        y = np.asarray(y.to_numpy() if isinstance(y, (pd.Series, pd.DataFrame)) else y)
        weights = _row_weights(sample_weight, len(X))
        classification = self.task_ == "classification"
        seed = _seed(self.random_state)
        if isinstance(self.cv, numbers.Integral):
            # Shuffled folds: training frames are often sorted (by date, by id).
            kind = StratifiedKFold if classification else KFold
            splitter = kind(n_splits=int(self.cv), shuffle=True, random_state=seed)
        else:
            splitter = check_cv(self.cv, y, classifier=classification)
        out = self._encode(X, self._out_tables, self._lookups)  # continuous part, and the shape
        dims = {c: t.shape[1] for c, t in zip(self.cat_features_, self.tables_)}
        # The fold nets learn the full net's vocabulary: its folded categories enter as missing
        # (the unknown vector, as at fit) and min_category_count=1 keeps the others, which a
        # fold's fewer rows would fold (a category of 110 rows, kept by the encoder, then had the
        # unknown vector on every training row and its own vector only at transform).
        train_X = X.copy()
        for c, lookup in zip(self.cat_features_, self._lookups):
            kept = category_codes(X[c], lookup) > 0
            if not kept.all():
                train_X[c] = X[c].astype(object).where(kept, None)
        for k, (train, test) in enumerate(splitter.split(X, y)):
            # Same widths as the full net, so each fold's tables can be rotated onto it.
            w = None if weights is None else weights[train]
            try:
                with warnings.catch_warnings():
                    # The full fit already said which columns are folded whole; not once per fold.
                    warnings.filterwarnings("ignore", message="every category of", category=UserWarning)
                    net = self._make_net(self.task_, emb_sizes=dims, min_category_count=1)
                    net.fit(train_X.iloc[train], y[train], sample_weight=w)
            except ValueError as e:  # a fold's rows can fail where all rows passed (all weighted 0)
                raise ValueError(f"cv fold {k + 1}: {e}") from None
            fold = EntityEmbeddingEncoder(remainder="drop", axes="net", dtype=self.dtype)
            fold._take_from(net)
            tables = [
                _procrustes(ft, fv, t, v)
                for ft, fv, t, v in zip(fold.tables_, fold.vocabs_, self.tables_, self.vocabs_)
            ]
            tables = self._export(tables)  # then onto the full net's principal axes
            width = sum(t.shape[1] for t in tables)
            out[test, :width] = fold._encode(X.iloc[test], tables, fold._lookups)
        return out

    # >>> names
    def _input_names(self) -> dict[Any, str]:
        names = (
            list(self.feature_names_in_)
            if hasattr(self, "feature_names_in_")
            else [f"x{i}" for i in range(self.n_features_in_)]
        )
        return dict(zip(self.columns_, names))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "tables_")
        names = self._input_names()
        if input_features is not None:
            input_features = [str(f) for f in input_features]
            if len(input_features) != self.n_features_in_:  # scikit-learn's wording for each case
                raise ValueError(
                    f"input_features should have length equal to number of features ({self.n_features_in_}), "
                    f"got {len(input_features)}"
                )
            if hasattr(self, "feature_names_in_") and input_features != list(self.feature_names_in_):
                raise ValueError("input_features is not equal to feature_names_in_")
            names = dict(zip(self.columns_, input_features))
        out = [f"{names[c]}_emb{i}" for c, t in zip(self.cat_features_, self._out_tables) for i in range(t.shape[1])]
        if self.remainder == "passthrough":
            out += [names[c] for c in self.cont_features_]
        return np.asarray(out, dtype=object)

    # >>> inspection
    @property
    def embeddings_(self) -> dict[Any, pd.DataFrame]:
        """{column: DataFrame with one row per category (first row UNKNOWN) and one column per output dim}.

        The vectors ``transform`` writes (principal axes by default); the net's raw weights are ``tables_``.
        """
        check_is_fitted(self, "tables_")
        names = self._input_names()
        return {
            c: pd.DataFrame(
                t,
                index=pd.Index([UNKNOWN, *v], name=c),
                columns=[f"{names[c]}_emb{i}" for i in range(t.shape[1])],
            )
            for c, t, v in zip(self.cat_features_, self._out_tables, self.vocabs_)
        }

    def _table(self, col: Any) -> tuple[np.ndarray, list[str], pd.Index]:
        """``col``'s exported table, its row labels and transform's lookup of its categories."""
        check_is_fitted(self, "tables_")
        if col not in self.cat_features_:
            raise ValueError(f"column {col!r} is not a categorical column of this encoder: {self.cat_features_}")
        j = self.cat_features_.index(col)
        return self._out_tables[j], [UNKNOWN, *self.vocabs_[j]], self._lookups[j]

    def most_similar(self, col: Any, category: Any, k: int = 10) -> pd.Series:
        """The k categories of ``col`` whose vectors (``embeddings_``) are closest to ``category``'s by cosine.

        With ``axes="principal"`` the vectors are centred, so the offset all categories share
        does not make every pair look alike.
        """
        check_positive("k", k, integer=True)  # as MatrixFactorization.similar_items
        table, labels, lookup = self._table(col)
        # transform's lookup (a flag meets its 0/1 spelling); row 0 is the unknown vector, asked
        # for as UNKNOWN unless a real category bears that name
        row = int(category_codes(pd.Series([category], dtype=object), lookup)[0])
        if row == 0 and category != UNKNOWN:
            raise ValueError(
                f"category {category!r} is not in the vocabulary of {col!r} (unseen at fit, or rarer "
                "than min_category_count and folded into the unknown vector)"
            )
        unit = table / np.maximum(np.linalg.norm(table, axis=1, keepdims=True), 1e-12)
        sims = pd.Series(unit @ unit[row], index=pd.Index(labels, name=col), name="cosine")
        # Neither the query nor the shared unknown vector is a neighbour worth listing (by
        # position: a real category named UNKNOWN is listed).
        others = np.ones(len(sims), dtype=bool)
        others[[0, row]] = False
        return sims[others].nlargest(int(k))

    def plot_embedding(self, col: Any, *, ax=None, max_labels: int = 50):
        """Labelled 2-D PCA map of one column's vectors; returns the matplotlib Axes."""
        from .plotting import plot_embedding_map

        table, labels, _ = self._table(col)
        return plot_embedding_map(table, labels, title=f"Entity embeddings of {col!r}", ax=ax, max_labels=max_labels)

    # >>> pickling
    def __getstate__(self) -> dict[str, Any]:
        # object.__getstate__ hands back the live __dict__: copy before dropping the lookups.
        state = dict(super().__getstate__())
        state.pop("_lookups", None)
        state.pop("_out_tables", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "axes" not in state:  # pickled before the principal-axes export: the net's own coordinates
            state = {**state, "axes": "net", "n_components": None}
            if "tables_" in state:
                state.update(centers_=None, components_=None)
        super().__setstate__(state)
        if "vocabs_" in state:
            self._build_lookups()


def _principal_axes(table: np.ndarray, n_components: int | float | None) -> tuple[np.ndarray, np.ndarray]:
    """Centre (dim,) and principal axes (dim, k) of a table's rows, by decreasing variance.

    Every row counts once: the rows are categories (each kept one seen >= min_category_count
    times at fit), not training rows, and an estimator's tables carry no row counts.
    """
    t = table.astype(np.float64)
    center = t.mean(axis=0)
    # full_matrices: all dim axes even when the table has fewer rows than dims (the trailing
    # ones then carry no variance), so that n_components=None keeps the net's width.
    _, s, vt = np.linalg.svd(t - center, full_matrices=True)  # vt: (dim, dim)
    # An axis' sign is arbitrary: svd_flip makes its largest loading positive, so a refit is
    # reproducible.
    axes = svd_flip(None, vt, u_based_decision=False)[1].T  # (dim, dim), by decreasing variance
    # Axes beyond the table's rank (a 2-category column in 3 dims) carry only rounding: they
    # became columns of ~1e-9 values, one per category, which a tree may still split on. Zeroed,
    # they are exactly constant.
    rank = int(np.sum(s > s[:1].max(initial=0.0) * max(t.shape) * np.finfo(np.float32).eps))
    axes[:, rank:] = 0.0
    if n_components is None:
        k = axes.shape[1]
    elif isinstance(n_components, numbers.Integral):
        k = min(int(n_components), axes.shape[1])
    else:
        var = s**2
        share = np.cumsum(var) / var.sum() if var.sum() > 0 else np.ones_like(var)
        k = int(np.searchsorted(share, n_components * (1 - 1e-9)) + 1)  # the fewest reaching it
    return center.astype(np.float32), axes[:, :k].astype(np.float32)


def _procrustes(fold_table: np.ndarray, fold_vocab: list[str], table: np.ndarray, vocab: list[str]) -> np.ndarray:
    """Rotate a fold net's table onto the full net's, matching rows by category (and unknown).

    Two nets trained from different seeds or rows learn the same geometry in different axes; a
    forest splits on axes, so fold vectors must share the full net's coordinates.
    """
    from scipy.linalg import orthogonal_procrustes

    pos = pd.Index(vocab, dtype=object).get_indexer(pd.Index(fold_vocab, dtype=object))
    shared = np.flatnonzero(pos >= 0)
    a = fold_table[np.r_[0, shared + 1]].astype(np.float64)
    b = table[np.r_[0, pos[shared] + 1]].astype(np.float64)
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    rot, _ = orthogonal_procrustes(a - mu_a, b - mu_b)
    return ((fold_table - mu_a) @ rot + mu_b).astype(np.float32)
