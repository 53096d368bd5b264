# NOTE: exact comparisons use torch.equal; torch.testing.assert_close imports torch.distributed
# on first use (~2.5 s), which these small tests do not need.
import gc
import json
import os
import pickle

import numpy as np
import pandas as pd
import pytest
import torch

from tabdl.columns import category_codes, category_keys, lookup_code, numeric_values
from tabdl.preprocess import (
    TabularPreprocessor,
    auto_min_category_count,
    categorical_column,
    rare_signal_f,
)


def mixed_frame() -> pd.DataFrame:
    """One column of every dtype the roles rule knows, with missing values in several."""
    return pd.DataFrame(
        {
            "obj": pd.Series(["b", "a", "b", None, "c", "a", "b", "a"], dtype=object),
            "str": pd.Series(["y", "x", "x", "x", None, "y", "x", "y"], dtype="str"),
            "string": pd.Series(["y", "x", "x", "x", None, "y", "x", "y"], dtype="string"),
            "cat": pd.Categorical(["q", "p", "p", "p", "q", None, "q", "p"]),
            "bool": [True, False, True, True, False, True, False, False],
            "int": [7, 7, 8, 8, 9, 9, 10, 10],
            "float": [1.0, np.nan, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
        }
    )


def fit(X, **kw) -> TabularPreprocessor:
    kw.setdefault("min_category_count", 1)
    return TabularPreprocessor(**kw).fit(X)


def assert_same(a, b):
    for ta, tb in zip(a, b):
        assert ta.dtype == tb.dtype and ta.shape == tb.shape
        assert torch.equal(ta, tb), (ta, tb)


# >>> column roles
def test_roles_follow_dtypes():
    pre = fit(mixed_frame())
    assert pre.cat_names_ == ["obj", "str", "string", "cat", "bool"]
    assert pre.cont_names_ == ["int", "float"]


@pytest.mark.parametrize("spec", [["int"], [1]])
def test_cat_features_override_by_name_or_index(spec):
    pre = fit(mixed_frame()[["float", "int"]], cat_features=spec)
    assert pre.cat_names_ == ["int"] and pre.cont_names_ == ["float"]
    assert pre.vocabs_ == [["10", "7", "8", "9"]]  # sorted as strings


def test_cat_features_is_the_full_list_and_says_so():
    # Given cat_features, every other column is continuous; a text column left out is named.
    with pytest.raises(ValueError, match="'obj'.*cat_features"):
        fit(mixed_frame()[["obj", "int"]], cat_features=["int"])


@pytest.mark.parametrize("spec", [["bool"], [0]])
def test_cont_features_override_by_name_or_index(spec):
    pre = fit(mixed_frame().drop(columns=["obj", "str", "string", "cat"]), cont_features=spec)
    assert "bool" in pre.cont_names_ and "bool" not in pre.cat_names_


def test_unknown_override_names_the_column():
    with pytest.raises(ValueError, match="nope"):
        fit(mixed_frame(), cat_features=["nope"])


def test_numpy_arrays_are_continuous_unless_cat_features():
    A = np.array([[1.0, 2.0], [3.0, 4.0], [1.0, 6.0]])
    pre = fit(A)
    assert pre.cat_names_ == [] and pre.cont_names_ == [0, 1]
    pre = fit(A, cat_features=[0])
    assert pre.cat_names_ == [0] and pre.cont_names_ == [1]
    assert pre.vocabs_ == [["1", "3"]]


# >>> vocabularies
def test_vocabularies_are_sorted_and_code_zero_is_missing():
    X = mixed_frame()
    pre = fit(X)
    assert pre.vocabs_[0] == ["a", "b", "c"]
    assert pre.vocabs_[4] == ["False", "True"]
    for vocab in pre.vocabs_:
        assert vocab == sorted(vocab)
    codes, _ = pre.transform(X)
    assert codes.dtype == torch.int64
    assert codes[:, 0].tolist() == [2, 1, 2, 0, 3, 1, 2, 1]  # None -> 0
    assert codes[4, 1] == 0 and codes[4, 2] == 0 and codes[5, 3] == 0
    assert pre.cardinalities_ == [len(v) + 1 for v in pre.vocabs_]


def test_unknown_category_at_predict_is_zero():
    pre = fit(mixed_frame())
    X2 = mixed_frame().assign(obj=["zzz"] * 8, cat=pd.Categorical(["new"] * 8))
    codes, _ = pre.transform(X2)
    assert (codes[:, 0] == 0).all() and (codes[:, 3] == 0).all()


def test_rare_levels_fold_into_zero():
    X = pd.DataFrame({"c": ["a"] * 5 + ["b"] * 3 + ["c"] * 2 + ["d"]})
    pre = TabularPreprocessor(min_category_count=3).fit(X)
    assert pre.vocabs_ == [["a", "b"]]
    codes, _ = pre.transform(X)
    assert codes[:, 0].tolist() == [1] * 5 + [2] * 3 + [0] * 3


@pytest.mark.parametrize(("n_rows", "bar"), [(10, 3), (299, 3), (1_000, 10), (5_049, 50), (10_000, 100), (10**6, 100)])
def test_auto_min_category_count_is_one_percent_clipped(n_rows, bar):
    assert auto_min_category_count(n_rows) == bar


def test_auto_rare_fold_scales_with_rows_and_round_trips():
    # 2,000 rows -> the bar is 20: "b" (25 rows) stays, "c" (15 rows) folds into 0.
    X = pd.DataFrame({"c": ["a"] * 1960 + ["b"] * 25 + ["c"] * 15})
    pre = TabularPreprocessor(min_category_count="auto").fit(X)
    assert pre.min_category_count_ == 20 and pre.vocabs_ == [["a", "b"]]
    # A few-hundred-row table keeps its categories (the bar stays at 3), unlike a fixed 100.
    small = TabularPreprocessor(min_category_count="auto").fit(X.iloc[1940:])
    assert small.min_category_count_ == 3 and small.vocabs_ == [["a", "b", "c"]]
    back = TabularPreprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    assert back.min_category_count == "auto" and back.min_category_count_ == 20
    assert torch.equal(back.transform(X)[0], pre.transform(X)[0])


def test_a_preprocessor_pickled_before_auto_still_exports():
    pre = TabularPreprocessor(min_category_count=3).fit(pd.DataFrame({"c": ["a"] * 5 + ["b"]}))
    state = {k: v for k, v in pre.__getstate__().items() if k != "min_category_count_"}
    old = TabularPreprocessor.__new__(TabularPreprocessor)
    old.__setstate__(state)
    assert TabularPreprocessor.from_dict(old.to_dict()).min_category_count_ == 3


@pytest.mark.parametrize("bad", [0, 2.5, "often", True])
def test_bad_min_category_count_names_the_parameter(bad):
    with pytest.raises(ValueError, match="min_category_count"):
        TabularPreprocessor(min_category_count=bad).fit(pd.DataFrame({"c": ["a", "b"]}))


@pytest.mark.parametrize("at_predict", ["7", 7.0, np.int64(7), np.float32(7)])
def test_int_vs_str_drift(at_predict):
    pre = fit(pd.DataFrame({"k": [7, 7, 8]}), cat_features=["k"])
    codes, _ = pre.transform(pd.DataFrame({"k": pd.Series([at_predict], dtype=object)}))
    assert codes.item() == 1 == pre.transform_row({"k": at_predict})[0].item()


@pytest.mark.parametrize(
    ("at_fit", "at_predict"),
    [([True, False, True], [1, 0, np.nan]), ([1, 0, 1], [True, False, None]), ([True, False, True], ["1", 0.0, None])],
)
def test_flag_and_its_0_1_spelling_meet(at_fit, at_predict):
    # A flag fitted as bool and predicted from a database's 0/1 read as unseen on every row.
    pre = fit(pd.DataFrame({"k": pd.Series(at_fit, dtype=object)}), cat_features=["k"])
    X = pd.DataFrame({"k": pd.Series(at_predict, dtype=object)})
    want = pre.transform(pd.DataFrame({"k": pd.Series(at_fit[:2] + [None], dtype=object)}))[0][:, 0].tolist()
    assert pre.transform(X)[0][:, 0].tolist() == want and 0 not in want[:2]
    assert [pre.transform_row({"k": v})[0].item() for v in at_predict] == want


def test_a_column_holding_both_spellings_keeps_them_apart():
    pre = fit(pd.DataFrame({"k": pd.Series([True, 1, 1, True, 0], dtype=object)}), cat_features=["k"])
    codes = pre.transform(pd.DataFrame({"k": pd.Series([True, 1, 0, False], dtype=object)}))[0][:, 0].tolist()
    assert codes[0] != codes[1] and codes[2] != 0 and codes[3] == codes[2]  # False: only "0" was seen


def test_date_categories_meet_their_text_date_and_utc_spellings():
    # Timestamps key as "2024-01-08 00:00:00": the same dates as ISO text (a CSV, JSON), as
    # .dt.date objects or tz-aware in UTC were unseen, silently the unknown vector.
    weeks = pd.Series(pd.date_range("2024-01-01", periods=3, freq="W-MON"))
    noon = pd.Series(pd.to_datetime(["2024-01-01 12:30:00"] * 3))
    pre = fit(
        pd.DataFrame({"w": pd.concat([weeks] * 3, ignore_index=True), "t": pd.concat([noon] * 3, ignore_index=True)}),
        cat_features=["w", "t"],
        min_category_count=1,
    )
    want = pre.transform(pd.DataFrame({"w": weeks, "t": noon}))[0]
    assert 0 not in want.flatten().tolist()
    spellings = {
        "ISO text": (weeks.dt.strftime("%Y-%m-%d"), noon.dt.strftime("%Y-%m-%dT%H:%M:%S")),
        "dates": (weeks.dt.date, noon.astype(str)),
        "UTC": (weeks.dt.tz_localize("UTC"), noon.dt.tz_localize("UTC")),
        "UTC text": (weeks.dt.strftime("%Y-%m-%dT00:00:00Z"), noon.dt.strftime("%Y-%m-%d %H:%M:%S+00:00")),
    }
    for w, t in spellings.values():
        X = pd.DataFrame({"w": w.astype(object), "t": t.astype(object)})
        assert torch.equal(pre.transform(X)[0], want)
        for i in range(3):
            assert torch.equal(pre.transform_row(X.iloc[i].to_dict())[0], want[i : i + 1])
    # Another instant is another category: Paris midnight is 23:00 UTC the day before.
    paris = pd.DataFrame({"w": weeks.dt.tz_localize("Europe/Paris").astype(object), "t": noon.astype(object)})
    assert pre.transform(paris)[0][:, 0].tolist() == [0, 0, 0]
    assert pre.transform(pd.DataFrame({"w": ["2024-02-30"] * 3, "t": noon}))[0][:, 0].tolist() == [0, 0, 0]


@pytest.mark.parametrize("fit_as", ["ints", "float text"])
def test_whole_numbers_meet_their_float_text(fit_as):
    # to_csv writes a code column that NaN made float as "3.0"; read_csv(dtype=str) keeps it.
    # Such text never met 3, 3.0 or "3" (nor the reverse): every row got the unknown vector.
    ints = pd.Series([3, 4, 5, 3, 4, 5])
    text = ints.astype(float).astype(str)
    assert text[0] == "3.0"
    fit_col, other = (ints, text) if fit_as == "ints" else (text, ints)
    pre = fit(pd.DataFrame({"k": fit_col}), cat_features=["k"])
    want = pre.transform(pd.DataFrame({"k": fit_col}))[0]
    assert 0 not in want.flatten().tolist()
    for col in (other, other.astype(object), ints.astype(float)):
        X = pd.DataFrame({"k": col})
        assert torch.equal(pre.transform(X)[0], want)
        assert torch.equal(pre.transform_row({"k": col[1]})[0], want[1:2])
    assert pre.transform(pd.DataFrame({"k": ["3.5", "007", "6.0"]}))[0].flatten().tolist() == [0, 0, 0]


def test_flags_meet_their_float_text():
    flags = pd.Series([True, False, True, False])
    pre = fit(pd.DataFrame({"f": flags}))
    want = pre.transform(pd.DataFrame({"f": flags}))[0]
    X = pd.DataFrame({"f": ["1.0", "0.0", "1.0", "0.0"]})
    assert torch.equal(pre.transform(X)[0], want)
    assert torch.equal(pre.transform_row({"f": "0.0"})[0], want[1:2])


def test_numpy_datetime_objects_key_as_their_timestamps():
    # An object column of np.datetime64 keyed as "2024-01-01T00:00:00.000000": Timestamps, ISO
    # text and dates at predict never met it.
    days = pd.Series(pd.date_range("2024-01-01", periods=3))
    as_numpy = pd.Series(list(days.to_numpy()), dtype=object)
    assert isinstance(as_numpy[0], np.datetime64)
    pre = fit(pd.DataFrame({"d": pd.concat([as_numpy] * 2, ignore_index=True)}), cat_features=["d"])
    want = pre.transform(pd.DataFrame({"d": as_numpy}))[0]
    assert sorted(want.flatten().tolist()) == [1, 2, 3]
    for col in (days, days.dt.strftime("%Y-%m-%d"), days.dt.date):
        assert torch.equal(pre.transform(pd.DataFrame({"d": col.astype(object)}))[0], want)
    assert category_keys(pd.Series([np.datetime64("NaT"), np.timedelta64(3, "h")], dtype=object)).tolist() == [
        None,
        "0 days 03:00:00",
    ]
    # Vocabularies saved when these keyed as numpy's text (in the values' own unit) still meet Timestamps.
    old = pd.Index(
        [
            "2024-01-01T00:00:00.000000",
            "2024-01-02T00:00:00.000000000",
            "2024-01-03T00:00:00",
            "2024-01-04T00:00:00.000",
            "2024-01-05T12:00",
        ],
        dtype=object,
    )
    when = pd.Series(
        pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05 12:00"], format="ISO8601")
    )
    assert category_codes(when, old).tolist() == [1, 2, 3, 4, 5]
    codes = {k: i + 1 for i, k in enumerate(old)}
    assert [lookup_code(codes, v) for v in when] == [1, 2, 3, 4, 5]
    # Hours alone, as the batch path reads them too; an instant a unit would truncate is not met.
    hours = pd.Index(["2024-01-01T00", "x"], dtype=object)
    instants = pd.Series(pd.to_datetime(["2024-01-01", "2024-01-01 00:00:00.000000001"], format="ISO8601"))
    assert category_codes(instants, hours).tolist() == [1, 0]
    assert [lookup_code({k: i + 1 for i, k in enumerate(hours)}, v) for v in instants] == [1, 0]
    seconds = pd.Index(["2024-01-01T00:00:00"], dtype=object)
    assert category_codes(instants, seconds).tolist() == [1, 0]
    assert [lookup_code({"2024-01-01T00:00:00": 1}, v) for v in instants] == [1, 0]


def test_a_few_rows_of_a_large_categorical_dtype_get_their_codes():
    # Every category of the dtype was keyed, used or not (2.6 s for 5 rows of a 1M-id dictionary).
    cats = [f"u{i}" for i in range(50)]
    pre = fit(pd.DataFrame({"u": pd.Categorical(["u3", "u7", "u3", "u9"], categories=cats)}))
    rows = pd.Categorical(["u9", None, "u3", "u40"], categories=cats[::-1])  # another order, NaN, unseen
    as_text = pd.Series(["u9", None, "u3", "u40"], dtype=object)
    got = pre.transform(pd.DataFrame({"u": rows}))[0]
    assert torch.equal(got, pre.transform(pd.DataFrame({"u": as_text}))[0])
    assert got[1, 0] == 0 and got[3, 0] == 0 and got[0, 0] > 0 and got[2, 0] > 0


def test_utc_date_categories_meet_their_naive_and_text_spellings():
    # Fitted tz-aware in UTC, the keys hold "+00:00": naive dates, ISO text and "Z" text were unseen.
    weeks = pd.Series(pd.date_range("2024-01-01", periods=3, freq="W-MON"))
    pre = fit(pd.DataFrame({"w": pd.concat([weeks.dt.tz_localize("UTC")] * 2, ignore_index=True)}), cat_features=["w"])
    want = pre.transform(pd.DataFrame({"w": weeks.dt.tz_localize("UTC")}))[0]
    assert sorted(want.flatten().tolist()) == [1, 2, 3]
    for w in (weeks, weeks.dt.strftime("%Y-%m-%d"), weeks.dt.strftime("%Y-%m-%dT%H:%M:%SZ"), weeks.dt.date):
        X = pd.DataFrame({"w": w.astype(object)})
        assert torch.equal(pre.transform(X)[0], want)
        for i in range(3):
            assert torch.equal(pre.transform_row(X.iloc[i].to_dict())[0], want[i : i + 1])
    vocab = pre._index[0]
    category_codes(pd.Series(["2024-01-08"]), vocab)
    from tabdl import columns

    # The vocabulary is searched for date keys once, and forgotten with it.
    assert columns._VOCAB_KINDS[id(vocab)][1] == {"dates": True, "numpy_dates": False}
    n = len(columns._VOCAB_KINDS)
    del pre, vocab
    gc.collect()
    assert len(columns._VOCAB_KINDS) == n - 1


def test_str_at_fit_matches_float_at_predict():
    pre = fit(pd.DataFrame({"k": ["7", "8", "8"]}))
    codes, _ = pre.transform(pd.DataFrame({"k": [7.0, 8.0, np.nan]}))
    assert codes[:, 0].tolist() == [1, 2, 0]


def test_category_keys_meet_across_dtypes():
    as_int = category_keys(pd.Series([7, 8]))
    as_float = category_keys(pd.Series([7.0, np.nan]))
    as_str = category_keys(pd.Series(["7", None], dtype="str"))
    as_cat = category_keys(pd.Series(pd.Categorical([7, None])))
    assert as_int[0] == as_float[0] == as_str[0] == as_cat[0] == "7"
    assert as_float[1] is None and as_str[1] is None and as_cat[1] is None


def test_float32_categories_meet_their_float64_spelling_in_both_paths():
    # A float32 column (parquet, reduce_mem_usage) keyed 0.1 as 0.10000000149011612: the 0.1 of
    # a CSV or JSON request at predict was unseen, silently the unknown vector.
    values = [0.1, 0.25, 1.7, 3.0]
    col = pd.Series(values, dtype="float32")
    expected = ["0.1", "0.25", "1.7", "3"]
    assert list(category_keys(col)) == expected
    assert list(category_keys(col.astype("category"))) == expected
    pre = fit(pd.DataFrame({"r": pd.Series(values * 5, dtype="float32")}), cat_features=["r"], min_category_count=1)
    codes64, _ = pre.transform(pd.DataFrame({"r": values}))
    assert (
        codes64.flatten().tolist()
        == pre.transform(pd.DataFrame({"r": pd.Series(values, dtype="float32")}))[0].flatten().tolist()
    )
    assert 0 not in codes64.flatten().tolist()
    assert pre.transform_row({"r": 0.1})[0].item() == pre.transform_row({"r": np.float32(0.1)})[0].item() != 0
    # pandas widens float32 when it boxes a row as objects (the estimators' one-row path), and a
    # vocabulary saved before float32 kept its digits holds the widened keys: both still meet.
    widened = float(np.float32(0.1))
    assert pre.transform_row({"r": widened})[0].item() == codes64[0, 0].item()
    assert category_codes(pd.Series([widened, 0.1]), pd.Index(["0.25", "0.1"], dtype=object)).tolist() == [2, 2]
    old_vocab = pd.Index([repr(float(np.float32(v))) for v in values if v != 3.0] + ["3"], dtype=object)
    assert category_codes(pd.Series(values, dtype="float32"), old_vocab).tolist() == [1, 2, 3, 4]


# >>> missing and infinite continuous values
def test_nan_at_fit_gives_median_fill_and_indicator():
    X = pd.DataFrame({"v": [1.0, np.nan, 3.0, 10.0, np.nan]})
    pre = fit(X, scaler="none")
    assert pre.fills_ == [3.0]
    assert pre.cont_out_names_ == ["v", "v_na"] and pre.n_cont_out_ == 2
    _, values = pre.transform(X)
    assert values.dtype == torch.float32
    assert values[:, 0].tolist() == [1.0, 3.0, 3.0, 10.0, 3.0]
    assert values[:, 1].tolist() == [0, 1, 0, 0, 1]


def test_nan_at_predict_in_clean_column_gets_median_no_new_column():
    pre = fit(pd.DataFrame({"v": [1.0, 2.0, 4.0]}), scaler="none")
    _, values = pre.transform(pd.DataFrame({"v": [np.nan, 4.0]}))
    assert values.shape == (2, 1)
    assert values[:, 0].tolist() == [2.0, 4.0]
    assert pre.transform_row({"v": None})[1].tolist() == [[2.0]]


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_inf_raises_naming_the_column(bad):
    X = pd.DataFrame({"ok": [1.0, 2.0], "wild": [1.0, bad]})
    with pytest.raises(ValueError, match="'wild'"):
        fit(X)
    pre = fit(X.assign(wild=[1.0, 2.0]))
    with pytest.raises(ValueError, match="'wild'"):
        pre.transform(X)
    with pytest.raises(ValueError, match="'wild'"):
        pre.transform_row({"ok": 1.0, "wild": bad})


@pytest.mark.parametrize("scaler", ["standard", "none"])
def test_a_value_beyond_float32_after_scaling_raises_naming_the_column(scaler):
    # Found in review: finite in float64 but inf in the net's float32, such a row predicted NaN
    # (and the classifier turned NaN into its first class) without a word.
    X = pd.DataFrame({"ok": [1.0, 2.0, 3.0], "wild": [1.0, 2.0, 4.0]})
    pre = fit(X, scaler=scaler)
    with pytest.raises(ValueError, match="column 'wild' holds a value that is .* beyond float32"):
        pre.transform(X.assign(wild=[1.0, 1e39, 2.0]))
    with pytest.raises(ValueError, match="column 'wild' holds a value that is .* beyond float32"):
        pre.transform_row({"ok": 1.0, "wild": -1e39})
    assert torch.isfinite(pre.transform(X.assign(wild=[1.0, 1e30, 2.0]))[1]).all()  # within range: read
    with pytest.raises(ValueError, match="'wild'"):  # the training rows too, as the fit encodes them
        fit(X.assign(wild=[1.0, 2.0, 1e39]), scaler="none").transform(X.assign(wild=[1.0, 2.0, 1e39]))
    fit(X.assign(wild=[1.0, 2.0, 1e39]), scaler="quantile").transform(X.assign(wild=[1e300, 2.0, 3.0]))  # clips


def test_dates_in_a_column_of_numbers_raise_in_both_paths():
    # Found in review: the one-row path read a Timestamp in a numeric column as 1.7e9 seconds,
    # where the batch refused it (and a datetime64 column was read silently).
    pre = fit(pd.DataFrame({"v": [1.0, 2.0, 3.0]}))
    msg = "continuous column 'v' held numbers at fit and holds dates here"
    with pytest.raises(ValueError, match=msg):
        pre.transform(pd.DataFrame({"v": pd.to_datetime(["2024-01-01", "2024-01-02"])}))
    with pytest.raises(ValueError, match=msg):
        pre.transform(pd.DataFrame({"v": pd.Series([pd.Timestamp("2024-01-01")], dtype=object)}))
    for v in (pd.Timestamp("2024-01-01"), np.datetime64("2024-01-01"), pd.Timestamp("2024-01-01").date()):
        with pytest.raises(ValueError, match=msg):
            pre.transform_row({"v": v})
    assert pre.transform_row({"v": pd.NaT})[1].tolist() == pre.transform_row({"v": None})[1].tolist()  # missing
    nat = pre.transform(pd.DataFrame({"v": pd.Series([pd.NaT, pd.NaT], dtype=object)}))[1]  # as the batch reads it
    assert nat.tolist() == pre.transform(pd.DataFrame({"v": [None, None]}))[1].tolist()
    dated = fit(pd.DataFrame({"d": pd.to_datetime(["2024-01-01", "2024-01-03"])}))
    assert dated.transform_row({"d": pd.Timestamp("2024-01-02")})[1].shape == (1, 1)  # dates at fit: read


def test_missing_column_at_transform_names_it():
    pre = fit(mixed_frame())
    with pytest.raises(ValueError, match="'float'"):
        pre.transform(mixed_frame().drop(columns="float"))
    with pytest.raises(ValueError, match="'obj'"):
        pre.transform_row({c: v for c, v in mixed_frame().iloc[0].items() if c != "obj"})


@pytest.mark.parametrize("scaler", ["standard", "quantile", "none"])
def test_scalers_store_stats_and_standard_is_zscore(scaler):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"v": rng.normal(5, 3, size=200)})
    pre = fit(X, scaler=scaler)
    _, values = pre.transform(X)
    if scaler == "standard":
        assert pre.stats_[0]["mean"] == pytest.approx(X["v"].mean())
        assert values[:, 0].mean().item() == pytest.approx(0, abs=1e-5)
        assert values[:, 0].std(unbiased=False).item() == pytest.approx(1, abs=1e-4)
    elif scaler == "quantile":
        # rank-gauss is monotone in the input
        order = np.argsort(X["v"].to_numpy())
        assert (np.diff(values[order, 0].numpy()) >= 0).all()
    else:
        np.testing.assert_allclose(values[:, 0].numpy(), X["v"].to_numpy(np.float32))


@pytest.mark.parametrize("scale", [1e-200, 1e160, 1e306])
def test_standard_scaler_stats_neither_overflow_nor_underflow(scale):
    # v.std() squares the values: inf at 1e160, 0 at 1e-200, and the column was then ignored.
    v = np.random.default_rng(0).normal(5, 3, size=200)
    pre = fit(pd.DataFrame({"v": v * scale}), scaler="standard")
    assert pre.stats_[0]["std"] == pytest.approx(v.std() * scale, rel=1e-9)
    assert pre.stats_[0]["mean"] == pytest.approx(v.mean() * scale, rel=1e-9)
    _, values = pre.transform(pd.DataFrame({"v": v * scale}))
    np.testing.assert_allclose(values[:, 0].numpy(), (v - v.mean()) / v.std(), rtol=1e-4, atol=1e-5)


# >>> the lean one-row path
def test_transform_row_equals_transform():
    X = mixed_frame()
    pre = fit(X, min_category_count=2)  # "c" is rare: folded into 0
    X2 = X.assign(obj=["b", "zzz", None, "c", "a", "b", "a", "a"], float=[np.nan, 1, 2, 3, 4, 5, 6, 7])
    X2.loc[0, "int"] = -3
    full = pre.transform(X2)
    for i in range(len(X2)):
        frame_row = dict(zip(X2.columns, X2.to_numpy(dtype=object)[i]))
        assert_same(pre.transform_row(frame_row), (full[0][i : i + 1], full[1][i : i + 1]))
        assert_same(pre.transform_row(X2.iloc[i].to_dict()), pre.transform(X2.iloc[[i]]))


@pytest.mark.parametrize("scaler", ["quantile", "standard", "none"])
def test_columns_that_never_varied_at_fit_do_not_move_predict_inputs(scaler):
    # A column constant (or missing on every row) at fit taught the net nothing; a value at
    # predict was fed through weights that only ever saw one input, at the scaler's clip value
    # (+5.2 for quantile), and the all-NaN column's indicator flipped to a value never seen.
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {"c": 3.0, "gap": np.where(np.arange(40) % 4, 3.0, np.nan), "none": np.nan, "x": rng.normal(size=40)}
    )
    pre = fit(X, scaler=scaler)
    new = pd.DataFrame(
        {"c": [7.0, -1.0, np.nan], "gap": [8.0, np.nan, 3.0], "none": [2.0, 5.0, np.nan], "x": [0.1, 0.2, 0.3]}
    )
    # "gap" is 3.0 or missing at fit: its value never varied, its missingness did.
    as_at_fit = new.assign(c=3.0, none=np.nan, gap=new["gap"].where(new["gap"].isna(), 3.0))
    _, got = pre.transform(new)
    assert torch.equal(got, pre.transform(as_at_fit)[1])
    assert pre.cont_names_ == ["c", "gap", "none", "x"] and got.shape[1] == 6
    assert got[:, 4].tolist() == [0, 1, 0] and got[:, 5].tolist() == [1, 1, 1]  # gap's NaN, none's
    for i in range(len(new)):
        assert_same(pre.transform_row(new.iloc[i].to_dict()), pre.transform(new.iloc[[i]]))
    back = TabularPreprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    assert_same(back.transform(new), pre.transform(new))
    # Their values are not read at all: text there (an empty "notes" column at fit, filled in
    # the rows to score) is a present value, not an error.
    text = new.astype({"c": object, "gap": object, "none": object})
    text.loc[0, ["c", "gap", "none"]] = ["n/a", "late", "see notes"]
    assert_same(pre.transform(text), pre.transform(new.assign(none=[1.0, 5.0, np.nan])))
    for i in range(len(text)):
        assert_same(pre.transform_row(text.iloc[i].to_dict()), pre.transform(text.iloc[[i]]))
    with pytest.raises(ValueError, match="'x' holds non-numeric"):
        pre.transform(text.astype({"x": object}).assign(x=["n/a", 0.2, 0.3]))


# >>> persistence
def test_to_dict_from_dict_round_trip_through_json():
    X = mixed_frame()
    pre = fit(X)
    back = TabularPreprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    assert_same(back.transform(X), pre.transform(X))
    row = X.iloc[1].to_dict()
    assert_same(back.transform_row(row), pre.transform_row(row))


def test_pickle_round_trip():
    X = mixed_frame()
    pre = fit(X)
    back = pickle.loads(pickle.dumps(pre))
    assert_same(back.transform(X), pre.transform(X))


# >>> bad input
def test_empty_frames_raise():
    with pytest.raises(ValueError, match="0 rows"):
        fit(pd.DataFrame({"a": []}))
    with pytest.raises(ValueError, match="0 feature"):
        fit(pd.DataFrame(index=range(3)))


def test_complex_values_raise():
    with pytest.raises(ValueError, match="Complex data not supported"):
        fit(np.array([[1 + 1j], [2 + 0j]]))


def test_object_arrays_keep_numbers_continuous():
    A = np.random.default_rng(0).normal(size=(20, 2)).astype(object)
    A[3, 1] = None
    pre = fit(A)
    assert pre.cat_names_ == [] and pre.cont_names_ == [0, 1]
    assert pre.has_indicator_ == [False, True]
    mixed = np.array([["a", 1.0], ["b", 2.0], ["a", 3.0]], dtype=object)
    pre = fit(mixed)
    assert pre.cat_names_ == [0] and pre.cont_names_ == [1]
    assert_same(pre.transform(mixed), pre.transform(mixed.astype(object)))


def test_lists_of_rows_keep_numbers_continuous():
    # np.asarray made these rows text throughout, and the numbers categories of their spellings.
    rows = [["a", 1.0], ["b", 2.0], ["a", 3.0]]
    pre = fit(rows)
    assert pre.cat_names_ == [0] and pre.cont_names_ == [1]
    assert_same(pre.transform(rows), pre.transform(np.array(rows, dtype=object)))


def time_frame(tz: str) -> pd.DataFrame:
    """A tz-aware datetime, a naive datetime and a duration column, each with one NaT."""
    X = pd.DataFrame(
        {
            "when": pd.date_range("2020-01-01", periods=6, freq="D", tz=tz),
            "naive": pd.date_range("2021-03-01", periods=6, freq="h"),
            "took": pd.to_timedelta([1, 2, 3, 4, 5, 6], unit="h"),
        }
    )
    X.loc[2, "when"] = pd.NaT
    X.loc[4, "naive"] = pd.NaT
    X.loc[3, "took"] = pd.NaT
    return X


def test_datetimes_and_durations_are_continuous_seconds_in_both_paths():
    X = time_frame("UTC")
    pre = fit(X, scaler="none")
    assert pre.cat_names_ == [] and pre.has_indicator_ == [True, True, True]
    _, values = pre.transform(X)
    assert values[1, 2].item() == pytest.approx(7200.0)  # seconds; NaT is not int64 min
    assert values[3, 2].item() == pytest.approx(pre.fills_[2]) and values[3, 5] == 1
    assert values[1, 0] - values[0, 0] == pytest.approx(86400.0)
    for i in range(len(X)):
        row = dict(zip(X.columns, X.to_numpy(dtype=object)[i]))
        np.testing.assert_allclose(pre.transform_row(row)[1].numpy(), values[i : i + 1].numpy(), rtol=1e-6)


def test_datetimes_held_as_objects_read_like_their_datetime_column():
    # Rows gathered from Series (pd.concat([X.iloc[0], X.iloc[1]], axis=1).T) or astype(object) turn a
    # datetime column into Timestamps in an object column: the one-row path read them, the
    # batch path raised "holds non-numeric values".
    X = time_frame("Europe/Paris")
    pre = fit(X)
    assert_same(pre.transform(X.astype(object)), pre.transform(X))
    rows = pd.concat([X.iloc[i] for i in range(len(X))], axis=1).T
    assert all(pd.api.types.is_object_dtype(t) for t in rows.dtypes)
    assert_same(pre.transform(rows), pre.transform(X))
    with pytest.raises(ValueError, match="'naive' held datetimes at fit.*'x'.*pd.to_datetime"):
        pre.transform(X.astype(object).assign(naive=["x", *X["naive"][1:]]))
    # A column that held datetimes reads ISO 8601 text (a CSV, JSON) as those dates, in both paths.
    text = X.assign(
        naive=X["naive"].dt.strftime("%Y-%m-%dT%H:%M:%S").astype(object),
        when=X["when"].map(lambda t: t.isoformat() if pd.notna(t) else None).astype(object),
    )
    assert_same(pre.transform(text), pre.transform(X))
    for i in range(len(X)):
        assert_same(pre.transform_row(text.iloc[i].to_dict()), pre.transform(X.iloc[[i]]))
    # A column of numbers at fit is not told to take dates, nor reads them.
    nums = fit(pd.DataFrame({"n": np.arange(6.0)}))
    with pytest.raises(ValueError, match="'n' holds non-numeric.*list it in cat_features"):
        nums.transform(pd.DataFrame({"n": ["2020-01-01"] * 6}))
    with pytest.raises(ValueError, match="'n' holds non-numeric.*pd.to_datetime"):  # at fit, it is
        fit(pd.DataFrame({"n": ["2020-01-01"] * 6}), cont_features=["n"])


def test_date_text_reads_the_same_as_a_batch_and_row_by_row_whatever_the_dtype():
    # Category-dtype date text, and object columns mixing epoch seconds with ISO text, were
    # refused as a batch while each of their rows predicted (the one-row path reads value by value).
    X = time_frame("UTC")
    pre = fit(X)
    iso = X["naive"].dt.strftime("%Y-%m-%d %H:%M")
    expected = pre.transform(X)
    seconds = X["naive"].iloc[0].timestamp()
    variants = {
        "category": iso.astype("category"),
        "str": iso.astype("str").where(iso.notna()),  # pandas 2.x writes NaN as the text "nan"
        "string": iso.astype("string"),
        "numbers and text": pd.Series([seconds, *iso.iloc[1:]], dtype=object),
    }
    for col in variants.values():
        Xv = X.assign(naive=col)
        assert_same(pre.transform(Xv), expected)
        for i in range(len(X)):
            assert_same(pre.transform_row(Xv.iloc[i].to_dict()), pre.transform(X.iloc[[i]]))
    # The error names the value that is not a date, in both paths, not the first one.
    bad = X.assign(naive=iso.where(iso.index != 2, "2024-02-30"))
    for call in (lambda: pre.transform(bad), lambda: pre.transform_row(bad.iloc[2].to_dict())):
        with pytest.raises(ValueError, match="'naive' held datetimes.*'2024-02-30'"):
            call()


def test_dates_outside_the_nanosecond_range_keep_their_seconds():
    # pandas 3 holds 9999-12-31 ("no end date") and year-1500 dates as datetime64[us]; a cast to
    # datetime64[ns] wrapped them around (9999 read as 1816) and the one-row path overflowed.
    # Built in microseconds (pandas 2.x parses text to ns only, and refuses these dates).
    days = np.array(["1500-06-01", "2000-06-01", "9999-12-31", "NaT"], dtype="datetime64[us]")
    X = pd.DataFrame({"d": pd.Series(days)})
    X["tz"] = X["d"].dt.tz_localize("UTC").dt.tz_convert("Asia/Tokyo")
    assert X["d"].dtype != "datetime64[ns]"
    truth = (X["d"] - pd.Timestamp("1970-01-01").as_unit("s")).dt.total_seconds().to_numpy()
    pre = fit(X, scaler="none")
    _, values = pre.transform(X)
    np.testing.assert_allclose(values[:3, 0].numpy(), truth[:3], rtol=1e-6)
    np.testing.assert_array_equal(values[:, 0].numpy(), values[:, 1].numpy())  # the same instants
    for i in range(len(X)):
        row = {c: X[c].iloc[i] for c in X.columns}
        np.testing.assert_array_equal(pre.transform_row(row)[1].numpy(), values[i : i + 1].numpy())
    # The estimators' one-row path boxes the row as objects: pandas 2.x crashed the process on a
    # zoned column like this one, so it goes through UTC first.
    from tabdl import TabularRegressor

    reg = TabularRegressor(epochs=1, n_bags=1, random_state=0).fit(
        pd.concat([X] * 5, ignore_index=True), np.arange(20.0)
    )
    np.testing.assert_allclose([reg.predict(X.iloc[[i]])[0] for i in range(len(X))], reg.predict(X), rtol=1e-6)


def test_numpy_datetimes_in_an_object_column_read_as_seconds_in_both_paths():
    # A float cast read np.datetime64 objects as raw counts of their unit (days, us, ns), and
    # pd.to_datetime forced ns on Timestamps of mixed units (9999-12-31 overflowed).
    seconds = [1577836800.0, 253402214400.0, np.nan]
    cols = {
        "np_us": pd.Series(
            [np.datetime64("2020-01-01T00:00:00", "us"), np.datetime64("9999-12-31", "us"), np.datetime64("NaT")],
            dtype=object,
        ),
        "np_days": pd.Series([np.datetime64("2020-01-01"), np.datetime64("9999-12-31"), None], dtype=object),
        "stamps": pd.Series(
            [pd.Timestamp("2020-01-01").as_unit("ns"), pd.Timestamp("9999-12-31"), pd.NaT], dtype=object
        ),
    }
    for name, col in cols.items():
        np.testing.assert_array_equal(numeric_values(col, name), seconds, err_msg=name)
    X = pd.DataFrame(cols).assign(x=[1.0, 2.0, 3.0])
    assert all(pd.api.types.is_object_dtype(X[c]) for c in cols)
    pre = fit(X, scaler="none")  # object columns of datetimes are continuous by their values
    assert pre.cat_names_ == [] and pre.cont_names_ == list(X.columns)
    _, values = pre.transform(X)
    np.testing.assert_allclose(values[:2, :3].numpy(), np.array([seconds[:2]] * 3).T, rtol=1e-7)
    for i in range(len(X)):
        row = dict(zip(X.columns, X.to_numpy(dtype=object)[i]))
        assert_same(pre.transform_row(row), (torch.zeros((1, 0), dtype=torch.int64), values[i : i + 1]))


def test_object_columns_of_dates_and_decimals_are_quantities_in_both_paths():
    # .dt.date gives datetime.date objects and SQL drivers give Decimals: as categories they had
    # one level per value, all folded as rare, and the column was silently lost.
    import datetime
    from decimal import Decimal

    days = pd.Series(pd.date_range("2020-01-01", periods=5, freq="7D"))
    X = pd.DataFrame(
        {
            "day": days.dt.date.astype(object),
            "amount": pd.Series([Decimal("1.50"), Decimal("2.25"), None, Decimal("-3"), Decimal("10")], dtype=object),
            "label": ["a", "b", "a", None, "b"],
            "mixed": pd.Series([datetime.date(2020, 1, 1), "soon", None, "x", "y"], dtype=object),
        }
    )
    X.loc[2, "day"] = None
    pre = fit(X, scaler="none")
    assert pre.cat_names_ == ["label", "mixed"] and pre.cont_names_ == ["day", "amount"]
    _, values = pre.transform(X)
    stamps = (days - pd.Timestamp("1970-01-01")).dt.total_seconds().to_numpy()
    np.testing.assert_allclose(values[[0, 1, 3, 4], 0].numpy(), stamps[[0, 1, 3, 4]], rtol=1e-7)
    np.testing.assert_allclose(values[[0, 1, 3, 4], 1].numpy(), [1.5, 2.25, -3.0, 10.0])
    assert values[2, 2] == 1 and values[2, 3] == 1  # missing date and amount: indicators
    for i in range(len(X)):
        row = dict(zip(X.columns, X.to_numpy(dtype=object)[i]))
        assert_same(pre.transform_row(row), tuple(t[i : i + 1] for t in pre.transform(X)))


def test_object_columns_of_floats_are_continuous_as_their_array_is():
    # df.T.T, apply(axis=1) and astype(object) leave floats in object columns: they were made
    # categorical (one level per value, all folded) while the same values as an array were numbers.
    X = pd.DataFrame({"f": [0.5, 1.5, np.nan, 2.5], "mix": [1, 2.5, 3, None], "c": list("abab")})
    as_objects = X.T.T
    assert all(pd.api.types.is_object_dtype(t) for t in as_objects.dtypes)
    pre = fit(as_objects)
    assert pre.cat_names_ == ["c"] and pre.cont_names_ == ["f", "mix"]
    assert_same(pre.transform(as_objects), fit(X).transform(X))
    # Ints as objects stay categories: astype(object) is how codes (zip codes) are marked so.
    assert fit(pd.DataFrame({"zip": pd.Series([10001, 10002, 10001, 10003], dtype=object)})).cat_names_ == ["zip"]
    # So do whole-number floats as objects: a zip column that NaN made float64, then boxed.
    zips = pd.Series([10001, 10002, np.nan, 10003]).astype(object)
    pre = fit(pd.DataFrame({"zip": zips}))
    assert pre.cat_names_ == ["zip"]
    assert_same(pre.transform(pd.DataFrame({"zip": [10002]})), pre.transform(pd.DataFrame({"zip": zips[[1]]})))
    assert fit(pd.DataFrame({"v": pd.Series([1.0, None, 2.0, 2.5], dtype=object)})).cont_names_ == ["v"]
    # Numbers beside text are still labels.
    assert fit(pd.DataFrame({"k": pd.Series([1, "x", 2, 3], dtype=object)})).cat_names_ == ["k"]


def test_unhashable_and_mixed_object_values_get_keys():
    keys = category_keys(pd.Series([{"a": 1}, "x", None, [1]], dtype=object))
    assert list(keys) == ["{'a': 1}", "x", None, "[1]"]
    # True, 1 and 1.0 hash alike but are different categories ("True" vs "1")
    keys = category_keys(pd.Series([True, 1, 1.0, "1", None], dtype=object))
    assert list(keys) == ["True", "1", "1", "1", None]


def test_float_and_nullable_columns_as_categories():
    keys = category_keys(pd.Series([7.0, 7.5, np.nan, 7.0]))
    assert list(keys) == ["7", "7.5", None, "7"]
    keys = category_keys(pd.Series([7, None, 8], dtype="Int64"))
    assert list(keys) == ["7", None, "8"]
    keys = category_keys(pd.Series([True, None], dtype="boolean"))
    assert list(keys) == ["True", None]


def test_rare_signal_f_is_the_one_way_anova_f():
    from scipy.stats import f_oneway

    rng = np.random.default_rng(0)
    groups = rng.integers(0, 7, 300)
    y = rng.normal(size=(300, 2)) + np.array([[0.0, 1.0]]) * groups[:, None] * 0.3
    parts = [y[groups == g] for g in range(7)]
    expected = f_oneway(*parts, axis=0).statistic
    assert rare_signal_f(groups, y[:, 0]) == pytest.approx(expected[0])
    assert rare_signal_f(groups, y) == pytest.approx(expected.max())  # the column with the effect
    # Class codes read as their one-hot columns, without building them.
    codes = (y[:, 1] > y[:, 1].mean()).astype(np.int64) + (y[:, 0] > 1)
    assert rare_signal_f(groups, codes) == pytest.approx(rare_signal_f(groups, np.eye(3)[codes]))
    assert np.isnan(rare_signal_f(np.zeros(5, dtype=int), y[:5]))  # one group
    assert np.isnan(rare_signal_f(np.arange(4), y[:4]))  # no row left to measure noise with


def _rare_levels_frame(n_levels: int, rows_each: int, effect: float, seed: int = 0):
    """One frequent level (so "auto" sets a bar of 1% of n) and many rare ones with a y effect."""
    rng = np.random.default_rng(seed)
    rare = np.repeat(np.arange(n_levels), rows_each)
    common = np.full(20 * len(rare), -1)
    level = np.concatenate([common, rare])
    y = np.where(level >= 0, effect * rng.normal(size=n_levels)[level], 0.0) + rng.normal(size=len(level))
    return pd.DataFrame({"c": [f"l{v}" for v in level]}), y


def test_auto_keeps_rare_categories_that_carry_signal_and_folds_noise():
    X, y = _rare_levels_frame(n_levels=40, rows_each=10, effect=1.0)  # 8,400 rows: the bar is 84
    pre = TabularPreprocessor(min_category_count="auto").fit(X, y)
    assert pre.min_category_count_ == 84 and pre.rare_kept_ == ["c"] and len(pre.vocabs_[0]) == 41
    X0, y0 = _rare_levels_frame(n_levels=40, rows_each=10, effect=0.0)
    noise = TabularPreprocessor(min_category_count="auto").fit(X0, y0)
    assert noise.rare_kept_ == [] and len(noise.vocabs_[0]) == 1
    # Without y, or with an explicit bar, the fold is by counts alone.
    assert len(TabularPreprocessor(min_category_count="auto").fit(X).vocabs_[0]) == 1
    assert len(TabularPreprocessor(min_category_count=84).fit(X, y).vocabs_[0]) == 1
    back = TabularPreprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    assert back.rare_kept_ == ["c"] and torch.equal(back.transform(X)[0], pre.transform(X)[0])


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_estimators_give_the_rare_category_test_their_target(task):
    from tabdl import TabularClassifier, TabularRegressor

    X, y = _rare_levels_frame(n_levels=40, rows_each=10, effect=1.5)
    X["x"] = np.random.default_rng(1).normal(size=len(X))
    if task == "classification":  # class labels reach the test as codes
        est = TabularClassifier(epochs=1, random_state=0).fit(X, np.where(y > 0, "yes", "no"))
    else:
        est = TabularRegressor(epochs=1, random_state=0).fit(X, y)
    assert est.preprocessor_.rare_kept_ == ["c"]


def test_iso_dates_beyond_nanoseconds_and_text_among_flags():
    # Found in review (pandas 2.2): ISO text outside 1677-2262 (an open end, 9999-12-31) parsed
    # to NaT, so a date column read from a CSV was refused or read as categories; and a column of
    # flags with a blank (objects, not text) broke the date sniffing.
    from tabdl.columns import iso_dates

    dates = iso_dates(pd.Series(["9999-12-31", "1500-01-01T10:00:00+02:00", None], dtype=object))
    assert dates is not None
    assert [str(d) for d in dates[:2]] == ["9999-12-31 00:00:00+00:00", "1500-01-01 08:00:00+00:00"]
    assert iso_dates(pd.Series([True, False, None], dtype=object)) is None
    assert iso_dates(pd.Series(["2024-02-30", "2024-01-01"], dtype=object)) is None  # no such date


def test_pyarrow_dates_and_durations_read_as_numpy_ones():
    # Found in review: pyarrow timestamps (zoned) and date32 columns, as read_parquet(dtype_backend=
    # "pyarrow") gives them, raised a bare TypeError; they read as the numpy columns they hold.
    pa = pytest.importorskip("pyarrow")
    base = pd.Series(pd.date_range("2020-01-01", periods=5, freq="D"))
    zoned = base.dt.tz_localize("Asia/Tokyo")
    assert np.array_equal(
        numeric_values(zoned.astype(pd.ArrowDtype(pa.timestamp("us", tz="Asia/Tokyo"))), "t"),
        numeric_values(zoned, "t"),
    )
    assert np.array_equal(
        numeric_values(pd.Series(base.dt.date).astype(pd.ArrowDtype(pa.date32())), "d"), numeric_values(base, "d")
    )
    dur = pd.Series(pd.to_timedelta([1, 2, None], unit="s"))
    assert np.array_equal(
        numeric_values(dur.astype(pd.ArrowDtype(pa.duration("s"))), "s"), numeric_values(dur, "s"), equal_nan=True
    )


def test_pyarrow_dictionary_columns_are_categorical_like_pandas_categories():
    # Found in review: read_parquet(dtype_backend="pyarrow") gives a pandas category column back
    # as a pyarrow dictionary, which was read as continuous: fit failed on its text ("could not
    # convert string to float"), and a dictionary of ints became one number. Both are categories.
    pa = pytest.importorskip("pyarrow")
    text = pd.Series(pd.Categorical(["b", "a", "b", None, "c", "a", "b", "a"]))
    ints = pd.Series(pd.Categorical([7, 8, 7, None, 9, 8, 7, 8]))

    def as_dictionary(s, values):
        return s.astype(pd.ArrowDtype(pa.dictionary(pa.int8(), values)))

    X = pd.DataFrame({"text": text, "ints": ints})
    Xa = pd.DataFrame({"text": as_dictionary(text, pa.string()), "ints": as_dictionary(ints, pa.int64())})
    pre, pre_a = fit(X), fit(Xa)
    assert pre_a.cat_names_ == pre.cat_names_ == ["text", "ints"]
    assert pre_a.vocabs_ == pre.vocabs_
    assert_same(pre_a.transform(Xa), pre.transform(X))


def test_a_pyarrow_dictionary_of_date_text_reads_as_dates_like_a_category():
    # Found in review: a column that held datetimes at fit read ISO text from a category at
    # predict, but not from the pyarrow dictionary that read_parquet(dtype_backend="pyarrow")
    # gives for one ("could not convert string to float: '2024-01-08'").
    pa = pytest.importorskip("pyarrow")
    days = pd.Series(pd.date_range("2024-01-01", periods=6, freq="7D"))
    pre = fit(pd.DataFrame({"d": days}))
    text = days.dt.strftime("%Y-%m-%d")
    col = text.astype(pd.ArrowDtype(pa.dictionary(pa.int32(), pa.string())))
    assert_same(pre.transform(pd.DataFrame({"d": col})), pre.transform(pd.DataFrame({"d": days})))


def test_pyarrow_binary_columns_are_categorical_like_bytes_objects():
    # Found in review: bytes in an object column are categories, but the same bytes as pyarrow
    # binary (a parquet BYTE_ARRAY column without a UTF-8 annotation) read as continuous and
    # failed fit ("could not convert string to float: b'a'").
    pa = pytest.importorskip("pyarrow")
    raw = pd.Series([b"a", b"b", b"a", None, b"b", b"a"], dtype=object)
    pre = fit(pd.DataFrame({"raw": raw}))
    for t in (pa.binary(), pa.large_binary()):
        X = pd.DataFrame({"raw": raw.astype(pd.ArrowDtype(t))})
        pre_a = fit(X)
        assert pre_a.cat_names_ == pre.cat_names_ == ["raw"] and pre_a.vocabs_ == pre.vocabs_
        assert_same(pre_a.transform(X), pre.transform(pd.DataFrame({"raw": raw})))


def test_the_suite_runs_on_the_string_storage_it_was_asked_for():
    # The Makefile's second run reads text in Python objects (TABDL_STRING_STORAGE=python): a
    # conftest that stopped applying it would run pyarrow's storage twice, unseen.
    storage = os.environ.get("TABDL_STRING_STORAGE")
    if storage is None or int(pd.__version__.split(".")[0]) < 3:
        pytest.skip("default storage, or pandas 2 (text is object)")
    assert pd.Series(["a"]).dtype.storage == storage
    assert categorical_column(pd.Series(["a", "b"]))
