"""Property tests over messy frames (hypothesis, bounded so the file stays fast).

For any frame, ``fit``/``predict`` either return outputs of the right shape and dtype, or raise
a ValueError whose message names the offending column; never an IndexError, KeyError or
RuntimeError from inside.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tabdl import TabularClassifier, TabularRegressor

FAST = dict(epochs=1, layers=(8,), random_state=0, device="cpu")
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,  # a fixed example sequence: a red test stays red, CI stays reproducible
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


KINDS = [
    "float_nan",  # floats with NaN anywhere
    "int",
    "nullable_int",  # Int64 with pd.NA
    "str",  # pandas 3 str dtype with missing values
    "object_mixed",  # 7, "7", 7.0, "a", None in one object column
    "bool",
    "nullable_bool",  # boolean dtype with pd.NA
    "category",
    "all_nan",
    "all_none",
    "constant",
    "datetime",
    "tz_datetime",
    "timedelta",
    "period",
    "float_inf",  # must be refused with the column named
]
LEVELS = ["a", "b", "c", "d", "e"]


def _column(kind: str, n: int, draw) -> pd.Series:
    ints = st.integers(0, 4)
    if kind == "float_nan":
        vals = draw(st.lists(st.one_of(st.floats(-1e3, 1e3), st.just(np.nan)), min_size=n, max_size=n))
        return pd.Series(vals, dtype="float64")
    if kind == "int":
        return pd.Series(draw(st.lists(ints, min_size=n, max_size=n)), dtype="int64")
    if kind == "nullable_int":
        return pd.Series(draw(st.lists(st.one_of(ints, st.none()), min_size=n, max_size=n)), dtype="Int64")
    if kind == "str":
        levels = st.one_of(st.sampled_from(LEVELS), st.none())
        return pd.Series(draw(st.lists(levels, min_size=n, max_size=n)), dtype="str")
    if kind == "object_mixed":
        mixed = st.sampled_from([7, "7", 7.0, "a", None, 3, "b", np.nan])
        return pd.Series(draw(st.lists(mixed, min_size=n, max_size=n)), dtype=object)
    if kind == "bool":
        return pd.Series(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    if kind == "nullable_bool":
        return pd.Series(
            draw(st.lists(st.one_of(st.booleans(), st.none()), min_size=n, max_size=n)),
            dtype="boolean",
        )
    if kind == "category":
        levels = st.one_of(st.sampled_from(LEVELS[:3]), st.none())
        return pd.Series(draw(st.lists(levels, min_size=n, max_size=n)), dtype="category")
    if kind == "all_nan":
        return pd.Series(np.full(n, np.nan))
    if kind == "all_none":
        return pd.Series([None] * n, dtype=object)
    if kind == "constant":
        return pd.Series(np.full(n, draw(st.sampled_from([0.0, 5.0, -1e6]))))
    if kind == "datetime":
        days = st.one_of(st.integers(0, 1000), st.none())
        vals = [
            None if d is None else pd.Timestamp("2020-01-01") + pd.Timedelta(days=d)
            for d in draw(st.lists(days, min_size=n, max_size=n))
        ]
        return pd.Series(pd.to_datetime(pd.Series(vals)))
    if kind == "tz_datetime":
        return _column("datetime", n, draw).dt.tz_localize("UTC").dt.tz_convert("Asia/Tokyo")
    if kind == "timedelta":
        hours = draw(st.lists(st.one_of(st.integers(0, 500), st.none()), min_size=n, max_size=n))
        return pd.Series(pd.to_timedelta(pd.Series(hours, dtype="float64"), unit="h"))
    if kind == "period":
        months = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
        return pd.Series(pd.PeriodIndex(["2020-01", "2020-02", "2020-03", "2020-04"], freq="M")[months])
    if kind == "float_inf":
        return pd.Series(draw(st.lists(st.sampled_from([1.0, np.inf, np.nan]), min_size=n, max_size=n)))
    raise AssertionError(kind)


@st.composite
def frames(draw, min_rows=2, max_rows=40, kinds=None):
    kinds = kinds or draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=5))
    n = draw(st.integers(min_rows, max_rows))
    return pd.DataFrame({f"{k}_{i}": _column(k, n, draw) for i, k in enumerate(kinds)}), kinds


def _targets(draw, n, task):
    if task == "regression":
        return np.asarray(draw(st.lists(st.floats(-100, 100), min_size=n, max_size=n)))
    labels = draw(st.sampled_from([["no", "yes"], [0, 1, 2], [True, False]]))
    y = np.asarray([labels[i % len(labels)] for i in range(n)])
    return y[np.asarray(draw(st.permutations(range(n))))]


def _check_outputs(est, X):
    n = len(X)
    if isinstance(est, TabularRegressor):
        pred = est.predict(X)
        assert pred.shape == (n,) and pred.dtype == np.float64
        assert np.isfinite(pred).all()
    else:
        proba = est.predict_proba(X)
        assert proba.shape == (n, len(est.classes_)) and proba.dtype == np.float64
        np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-4)
        pred = est.predict(X)
        assert pred.shape == (n,) and pred.dtype == est.classes_.dtype
        assert set(pred) <= set(est.classes_)


def _either_works_or_names_a_column(fn, columns):
    """Run fn; a ValueError is fine only when it names one of the columns."""
    try:
        return fn()
    except ValueError as e:
        assert any(repr(c) in str(e) or str(c) in str(e) for c in columns), f"unnamed column in: {e}"
        return None


def _fit(task, X, y):
    est = (TabularRegressor if task == "regression" else TabularClassifier)(**FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny data: divergence warnings are allowed, crashes are not
        return _either_works_or_names_a_column(lambda: est.fit(X, y), list(X.columns))


@pytest.mark.parametrize("task", ["regression", "classification"])
@SETTINGS
@given(data=st.data())
def test_fit_predict_on_messy_frames(task, data):
    X, kinds = data.draw(frames())
    y = _targets(data.draw, len(X), task)
    est = _fit(task, X, y)
    if est is None:
        return
    _check_outputs(est, X)
    # The lean one-row path agrees with the batch path.
    out = est.predict if task == "regression" else est.predict_proba
    np.testing.assert_allclose(out(X.iloc[-1:]), out(X)[-1:], rtol=1e-5, atol=1e-6)
    # ... and so does one row given as a Series (mixed dtypes turn it into an object Series).
    np.testing.assert_array_equal(out(X.iloc[-1]), out(X.iloc[-1:]))
    # New rows: unseen categories, NaN in columns that had none, one row at a time.
    X_new, _ = data.draw(frames(min_rows=1, max_rows=10, kinds=kinds))
    X_new = X_new.set_axis(X.columns, axis=1)
    _either_works_or_names_a_column(lambda: _check_outputs(est, X_new), list(X.columns))
    _either_works_or_names_a_column(lambda: _check_outputs(est, X_new.iloc[:1]), list(X.columns))
    # A column that is entirely missing at predict time (pandas reads it as float NaN) must
    # never break prediction, whatever its type at fit.
    gone = data.draw(st.sampled_from(list(X.columns)))
    if not kinds[list(X.columns).index(gone)] == "float_inf":
        X_gone = X.assign(**{gone: np.nan})
        _check_outputs(est, X_gone)
        _check_outputs(est, X_gone.iloc[:1])


@SETTINGS
@given(data=st.data())
def test_shuffled_and_extra_columns_give_the_same_predictions(data):
    X, _ = data.draw(frames(min_rows=10))
    y = _targets(data.draw, len(X), "regression")
    est = _fit("regression", X, y)
    if est is None:
        return
    expected = est.predict(X)
    order = data.draw(st.permutations(list(X.columns)))
    X2 = X[order].assign(extra=np.arange(len(X)), other="junk")
    assert np.array_equal(est.predict(X2), expected)
    one = X2.iloc[[data.draw(st.integers(0, len(X) - 1))]]
    np.testing.assert_allclose(est.predict(one), expected[X.index.get_loc(one.index[0])], rtol=1e-5)


@SETTINGS
@given(data=st.data())
def test_category_drift_int_vs_str(data):
    """A column fitted as ints and later given as strings (or the reverse) gives the same codes."""
    n = data.draw(st.integers(6, 30))
    codes = data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    as_str = data.draw(st.booleans())
    col = pd.Series([str(c) for c in codes], dtype="str") if as_str else pd.Series(codes, dtype="int64")
    X = pd.DataFrame({"k": col, "x": np.linspace(0, 1, n)})
    y = np.asarray(codes, dtype=float) + X["x"].to_numpy()
    est = TabularRegressor(cat_features=["k"], **FAST).fit(X, y)
    drifted = X.assign(k=[int(c) for c in codes] if as_str else [str(c) for c in codes])
    if as_str:
        drifted = drifted.assign(k=drifted["k"].astype("float64"))  # ints read back as floats
    assert np.array_equal(est.predict(drifted), est.predict(X))
    assert np.array_equal(est.predict(drifted.iloc[:1]), est.predict(X.iloc[:1]))


@SETTINGS
@given(data=st.data())
def test_non_numeric_values_in_a_continuous_column_name_it(data):
    X, _ = data.draw(frames(min_rows=5, kinds=["float_nan", "int"]))
    est = _fit("regression", X, np.arange(len(X), dtype=float))
    if est is None:
        return
    bad = X.assign(float_nan_0=pd.Series(["oops"] * len(X), dtype=data.draw(st.sampled_from(["str", object]))))
    pre = est.preprocessor_
    j = pre.cont_names_.index("float_nan_0")
    present = X.assign(float_nan_0=pre.fills_[j])  # the value it always had, never missing
    for rows in (bad, bad.iloc[:1]):
        if pre.stats_[j].get("constant", False):  # it never varied at fit: its values are not read
            assert np.array_equal(est.predict(rows), est.predict(present.iloc[: len(rows)]))
            continue
        with pytest.raises(ValueError, match="float_nan_0"):
            est.predict(rows)
    with pytest.raises(ValueError, match="int_1"):
        est.predict(X.drop(columns="int_1"))
