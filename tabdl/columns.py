"""Torch-free column helpers: frames, category keys and codes, numeric values.

They live apart from ``preprocess`` (which produces torch tensors) so that the fitted
``EntityEmbeddingEncoder`` maps categories exactly like the preprocessor without importing torch.
"""

from __future__ import annotations

import datetime
import math
import re
import weakref
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "as_frame",
    "row_as_frame",
    "boxed",
    "category_keys",
    "category_codes",
    "check_column_names",
    "factorize_keys",
    "holds_datetimes",
    "date_values",
    "holds_quantities",
    "iso_dates",
    "key_spellings",
    "lookup_code",
    "mean_std",
    "numeric_values",
    "arrow_labels",
]


def row_as_frame(X: Any, names: Any) -> Any:
    """A one-row Series that holds every fitted column name (``df.iloc[i]``, as fastai's
    ``learn.predict`` takes a row) or a dict as a frame; anything else as it is. With int or tuple
    names (``read_csv(header=None)``, a MultiIndex) the index must hold exactly those names: a
    Series indexed 0..n-1 is otherwise as likely a column of values."""
    # {column: value}: one row, named as a frame's; records and another library's table: named too
    if isinstance(X, Mapping) and not hasattr(X, "tocsr") or _other_frame(X) or _records(X):
        return as_frame(X)
    if not isinstance(X, pd.Series) or names is None:
        return X
    names = list(names)
    strings = all(isinstance(c, str) for c in names)
    try:
        if set(names) <= set(X.index) if strings else len(X) == len(names) and set(X.index) == set(names):
            return X.to_frame().T
    except TypeError:  # unhashable labels
        pass
    return X


def _records(X: Any) -> bool:
    """Whether X is JSON records, ``[{column: value}, ...]``: rows named as one dict's row is
    (np.asarray made a 1-D array of dicts, refused as "Expected 2D array")."""
    return isinstance(X, (list, tuple)) and bool(X) and all(isinstance(r, Mapping) for r in X)


def _other_frame(X: Any) -> bool:
    """Whether X is another library's table (a pyarrow Table or RecordBatch, a polars DataFrame):
    scikit-learn reads its column names, which np.asarray drops (a table with its columns in
    another order was then read by position, silently)."""
    return not isinstance(X, pd.DataFrame) and hasattr(X, "columns") and callable(getattr(X, "to_pandas", None))


def as_frame(X: Any) -> pd.DataFrame:
    """Wrap arrays and lists as a DataFrame without copying a DataFrame that is already one."""
    if isinstance(X, pd.DataFrame):
        return X
    if isinstance(X, pd.Series):
        return X.to_frame()
    if _other_frame(X):
        return X.to_pandas()
    if hasattr(X, "toarray") or hasattr(X, "tocsr"):  # before Mapping: scipy's dok format is a dict
        raise TypeError("sparse input is not supported by tabdl: pass a dense array or DataFrame")
    if isinstance(X, Mapping):
        # {column: value} is one row (a JSON request); {column: values} a table, as pandas reads
        # it (scalars broadcast). A tuple is a value, not a column: a category may be one.
        columnar = any(pd.api.types.is_list_like(v) and not isinstance(v, tuple) for v in X.values())
        return pd.DataFrame(X) if columnar else pd.DataFrame([X])
    if _records(X):
        # Every record names the same columns: pandas filled a key that some records lack with
        # NaN, so a row whose field was left out (or misspelt) was predicted as missing without a
        # word, where one such dict, or records that all lack it, are refused ("X is missing").
        keys = list(X[0])
        for i, r in enumerate(X):
            if r.keys() != set(keys):
                lack, extra = [k for k in keys if k not in r], [k for k in r if k not in keys]
                raise ValueError(
                    f"JSON records name different columns: record {i} lacks {lack} and adds {extra} "
                    "beside record 0; give every record the same keys (None for a missing value)"
                )
        return pd.DataFrame(list(X))
    arr = np.asarray(X)
    if arr.dtype.kind == "U" and not isinstance(X, np.ndarray):
        # numpy makes rows that mix text and numbers (X.values.tolist(), JSON arrays) text
        # throughout: the number columns became categories of their spellings. As objects they
        # keep their types, as an object array's do below.
        arr = np.asarray(X, dtype=object)
    if arr.ndim == 1:
        raise ValueError(
            "Expected 2D array, got 1D array instead. Reshape your data either using "
            "array.reshape(-1, 1) if your data has a single feature or array.reshape(1, -1) "
            "if it contains a single sample."
        )
    if arr.ndim != 2:
        raise ValueError(f"Expected a 2D array or DataFrame, got an array with {arr.ndim} dims")
    if arr.dtype == object:
        # An array has no per-column dtypes: columns that hold numbers are numbers (continuous),
        # not categories with one level per distinct float; only non-numeric ones stay object.
        return pd.DataFrame(arr).infer_objects()
    return pd.DataFrame(arr)


def _key(v: Any) -> str | None:
    """One key per category value, so that 7, 7.0, np.int64(7) and "7" all meet at "7"."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (bool, np.bool_)):
        return "True" if v else "False"
    if isinstance(v, (float, np.floating)):
        if math.isnan(v):
            return None
        if math.isfinite(v) and float(v).is_integer():
            return str(int(v))
        if isinstance(v, np.floating) and v.dtype.itemsize < 8:
            # float32 0.1 is 0.10000000149011612 as a float64: keyed by its own shortest digits,
            # it meets the 0.1 of float64 data (a CSV, a JSON request) at predict.
            return repr(float(str(v)))
        return repr(float(v))
    if isinstance(v, (np.datetime64, np.timedelta64)):  # before ints: a np.timedelta64 is a np.integer
        # As the Timestamp / Timedelta of the same instant keys (np.datetime64 objects in an
        # object column printed "2024-01-01T00:00:00.000000", which nothing else spells).
        if np.isnat(v):
            return None
        try:
            return str(pd.Timestamp(v) if isinstance(v, np.datetime64) else pd.Timedelta(v))
        except (ValueError, OverflowError):  # beyond pandas' range: numpy's own text
            return str(v)
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return str(v)


# pandas 2.x crashes the process (a segfault) boxing zoned datetimes of a unit coarser than ns
# from before 1677 out of an array in a zone other than UTC; boxing in UTC and converting each
# Timestamp is safe, and gives the same Timestamps.
_PANDAS_2 = int(pd.__version__.split(".")[0]) < 3


def boxed(values: Any) -> Any:
    """The values of a Series, Index or array as Python objects (Timestamps for datetimes),
    boxed without pandas 2.x's crash on old zoned dates: a list, or ``values`` itself to iterate."""
    tz = getattr(getattr(values, "dtype", None), "tz", None)
    if not (_PANDAS_2 and tz is not None and str(tz) != "UTC"):
        return values
    utc = values.dt.tz_convert("UTC") if isinstance(values, pd.Series) else values.tz_convert("UTC")
    return [v if v is pd.NaT else v.tz_convert(tz) for v in utc]


def factorize_keys(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, keys)``: ``keys[codes]`` are the per-row keys of ``category_keys``.

    ``codes`` is an int array with -1 for missing values and ``keys[-1]`` is None, so missing
    values pick None. Keys are computed once per distinct value (pandas hashes the column at C
    speed), which is what makes the per-row paths fast on long columns.
    """
    dtype = col.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        uniques = dtype.categories
        codes = col.cat.codes.to_numpy().astype(np.int64)
        if len(uniques) > len(codes):
            # A few rows of a large dictionary (a parquet slice keeps every category): only the
            # categories present are keyed, not the whole dtype's (2.6 s for 5 rows of 1M ids).
            used = np.unique(codes[codes >= 0])
            remap = np.full(len(uniques), -1, dtype=np.int64)
            remap[used] = np.arange(len(used))
            codes = np.where(codes >= 0, remap[codes], -1)
            uniques = uniques[used]
    else:
        try:
            codes, uniques = pd.factorize(col, use_na_sentinel=True)
            # A mixed object column goes value by value: factorize would merge True, 1 and 1.0,
            # whose keys differ ("True" vs "1").
            per_value = pd.api.types.is_object_dtype(dtype) and not all(type(u) is str for u in uniques)
        except TypeError:  # unhashable values (a dict, a list) cannot be factorized
            per_value = True
        if per_value:
            per_row = np.array([_key(v) for v in col.to_numpy(object)], dtype=object)
            codes, uniques = pd.factorize(per_row, use_na_sentinel=True)
    if getattr(uniques, "dtype", None) is not None and uniques.dtype.kind == "f":
        uniques = np.asarray(uniques)  # an Index yields Python floats: a float32's own digits are lost
    keys = np.array([_key(u) for u in boxed(uniques)] + [None], dtype=object)
    return codes, keys


def category_keys(col: pd.Series) -> np.ndarray:
    """Map a column to an object array of string keys, with None for missing values."""
    codes, keys = factorize_keys(col)
    return keys[codes]


# Other spellings of a key, tried when the vocabulary lacks the key itself; where the vocabulary
# holds both spellings, each keeps its own code.
# - A flag and its 0/1 spelling: a column fitted on True/False and predicted from a database's
#   0/1 (or the reverse) otherwise read as unseen on every row.
# - A whole number and its float text ("7" and "7.0"): to_csv writes a code column that NaN made
#   float as "7.0", and read_csv(dtype=str) keeps that text; flags meet "1.0" / "0.0" too.
# - A float32 value's own digits ("0.1") and its float64 widening ("0.10000000149011612"): pandas
#   widens float32 when it boxes a row as objects (the one-row path), and files saved before
#   float32 values kept their own digits hold the widened keys.
# - A date with and without its midnight time, in UTC: Timestamps key as "2024-01-08 00:00:00",
#   while ISO text (a CSV, JSON) and .dt.date objects key as "2024-01-08", and UTC Timestamps as
#   "2024-01-08 00:00:00+00:00". Another zone's instants are not UTC's: they keep their own keys.
_FLAG_ALIAS = {"True": "1", "False": "0", "1": "True", "0": "False"}
_INT_KEY = re.compile(r"-?\d+")
_FLOAT_KEY = re.compile(r"-?\d+(?:\.\d+(?:e[+-]?\d+)?|e[+-]?\d+)")  # repr of a float that is no int
_WHOLE_TEXT_KEY = re.compile(r"-?\d+\.0+")  # a whole number as float text
_DATE_KEY = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?")


def _aliases(key: str | None, numpy_dates: bool = True) -> tuple[str, ...]:
    """The other spellings of ``key`` that a vocabulary may hold instead (see above);
    ``numpy_dates=False`` leaves out numpy's text of dates (for a vocabulary without it)."""
    if key is None:
        return ()
    if key in ("True", "False"):
        return (_FLAG_ALIAS[key], _FLAG_ALIAS[key] + ".0")
    if _INT_KEY.fullmatch(key):
        whole = (key + ".0",) if key == str(int(key)) else ()  # "007" is a label, not a number
        return (_FLAG_ALIAS[key], *whole) if key in _FLAG_ALIAS else whole
    if _FLOAT_KEY.fullmatch(key) and float(key).is_integer():
        f = float(key)
        if not abs(f) < 2**53:  # beyond exact float integers (and inf): no one whole number
            return ()
        whole = str(int(f))
        return tuple(k for k in (whole, whole + ".0", _FLAG_ALIAS.get(whole)) if k is not None and k != key)
    if _FLOAT_KEY.fullmatch(key):
        f = np.float32(float(key))
        if not np.isfinite(f):
            return ()
        widened, own = repr(float(f)), repr(float(str(f)))
        return (own,) if key == widened != own else (widened,) if key == own != widened else ()
    if not _DATE_KEY.fullmatch(key):
        return ()
    try:
        ts = pd.Timestamp(key)
        if ts.tz is not None:
            ts = ts.tz_convert("UTC").tz_localize(None)
        # and as a UTC value keys it, for a column that was tz-aware (UTC) at fit
        spellings = (str(ts), ts.date().isoformat()) if ts == ts.normalize() else (str(ts),)
        spellings += (str(ts.tz_localize("UTC")),)
        # np.datetime64 objects were keyed by numpy's text before they keyed as Timestamps:
        # saved vocabularies may hold it ("2024-01-01T00:00:00.000000", in microseconds or ns).
        if numpy_dates:  # in every unit that holds the instant exactly ("2024-01-01T12:00" in minutes)
            exact = ts.to_datetime64()  # in the Timestamp's own unit: no nanoseconds dropped
            spellings += tuple(
                dict.fromkeys(  # a unit that truncates or overflows does not convert back
                    str(d)
                    for d in (exact.astype(f"datetime64[{u}]") for u in _NUMPY_UNITS)
                    if d.astype(exact.dtype) == exact
                )
            )
    except (ValueError, OverflowError, NotImplementedError):  # 2024-02-30, year 0
        return ()
    return tuple(k for k in spellings if k != key)


# Which rarer spellings a vocabulary holds at all, by id(vocab) and kind: a fitted vocabulary is
# searched once per kind, and only once a key that could need it comes up (a 1M-key scan costs
# a second). The weak reference drops the entry when the Index is freed (ids are reused).
_VOCAB_KINDS: dict[int, tuple[weakref.ref, dict[str, bool]]] = {}
_NUMPY_UNITS = ("s", "ms", "us", "ns", "m", "h")
_NUMPY_DATE_KEY = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?")  # no zone
_KIND_PATTERNS = {  # (a cheap substring every such key holds, the pattern)
    "dates": ("-", _DATE_KEY),
    "numpy_dates": ("T", _NUMPY_DATE_KEY),
    "whole_text": (".", _WHOLE_TEXT_KEY),
}


def key_spellings(key: str | None) -> tuple[str, ...]:
    """``key`` and every other spelling of it that category lookups accept (7 / "7.0", True / 1)."""
    return () if key is None else (key, *_aliases(key))


def _vocab_holds(vocab: pd.Index, kind: str) -> bool:
    hit = _VOCAB_KINDS.get(id(vocab))
    if hit is None or hit[0]() is not vocab:
        key = id(vocab)
        hit = _VOCAB_KINDS[key] = (weakref.ref(vocab, lambda _: _VOCAB_KINDS.pop(key, None)), {})
    if kind not in hit[1]:
        part, pattern = _KIND_PATTERNS[kind]
        s = pd.Series(vocab, dtype=object).astype(str)
        s = s[s.str.contains(part, regex=False)]
        hit[1][kind] = bool(s.str.fullmatch(pattern.pattern).any())
    return hit[1][kind]


def _alias_codes(keys: np.ndarray, vocab: pd.Index) -> np.ndarray:
    """Codes (i + 1) in ``vocab`` of the first other spelling of each key that it holds, else 0."""
    out = np.zeros(len(keys), dtype=np.int64)
    # Most unknown keys have no other spelling (new ids, new words): filtered at C speed first,
    # and the vocabulary is searched once per rank of spelling, not once per key.
    s = pd.Series(keys, dtype=object)
    maybe = s.isin(list(_FLAG_ALIAS)) | s.str.fullmatch(_FLOAT_KEY.pattern)
    # Dates are parsed one by one, and new int ids are the commonest unknown keys: their other
    # spellings are looked for only where the vocabulary holds such spellings at all.
    dates, ints = s.str.fullmatch(_DATE_KEY.pattern), s.str.fullmatch(_INT_KEY.pattern)
    numpy_dates = bool(dates.any()) and _vocab_holds(vocab, "numpy_dates")  # "2024-01-01T00" too
    if dates.any() and (numpy_dates or _vocab_holds(vocab, "dates")):
        maybe |= dates
    if ints.any() and _vocab_holds(vocab, "whole_text"):
        maybe |= ints
    rows = np.flatnonzero(maybe.to_numpy(dtype=bool))
    spelled = [_aliases(k, numpy_dates) for k in keys[rows]]
    for rank in range(max(map(len, spelled), default=0)):
        at = np.array([r for r, sp in zip(rows, spelled) if len(sp) > rank], dtype=np.int64)
        found = vocab.get_indexer([sp[rank] for sp in spelled if len(sp) > rank]) + 1
        out[at] = np.where(out[at] == 0, found, out[at])
    return out


def category_codes(col: pd.Series, vocab: pd.Index) -> np.ndarray:
    """int64 codes of a column in a vocabulary index: i + 1 for ``vocab[i]``, 0 for unknown/missing."""
    codes, keys = factorize_keys(col)
    lut = (vocab.get_indexer(keys) + 1).astype(np.int64)  # -1 (unknown, and the None key) -> 0
    unknown = np.flatnonzero(lut[:-1] == 0)  # distinct keys, not rows (the last key is None)
    if len(unknown):
        lut[unknown] = _alias_codes(keys[unknown], vocab)
    return lut[codes]


def lookup_code(codes: dict[str, int], value: Any) -> int:
    """The one-row counterpart of ``category_codes``: ``value``'s code in ``{key: code}``."""
    key = _key(value)
    code = codes.get(key)
    if code is None:
        code = next((codes[a] for a in _aliases(key) if a in codes), 0)
    return code


def check_column_names(columns: pd.Index) -> None:
    """scikit-learn's rule: names are all strings, or the columns go by position. A mix is
    refused (scikit-learn refuses it with a TypeError): by position, a reordered frame would be
    silently misread."""
    # NaN (from an unstack or pivot over a key holding NaN) is not equal to itself: a frame
    # holding it was read by position when reordered, and no one-row dict could hold the column.
    if any(c is pd.NA or c is pd.NaT or isinstance(c, (float, np.floating)) and math.isnan(c) for c in columns):
        raise ValueError(
            f"X has a column named NaN (columns: {list(columns)[:20]}); name it, e.g. "
            "X.columns = X.columns.fillna('missing')"
        )
    odd = [c for c in columns if not isinstance(c, str)]
    if odd and len(odd) < len(columns):
        raise ValueError(
            f"X mixes string and other column names (e.g. {odd[0]!r}); make them all strings, "
            "e.g. X.columns = X.columns.astype(str), so that columns are matched by name"
        )


def refuse_missing_target(y: np.ndarray) -> None:
    """A ValueError when the target array ``y`` holds a missing value (NaN, None, pd.NA, NaT)."""
    if y.ndim and pd.isna(pd.DataFrame(y.reshape(len(y), -1))).to_numpy().any():
        raise ValueError("y contains NaN; drop those rows or impute the target before fit")


def check_unique_columns(columns: pd.Index, needed: Any = None) -> None:
    """A ValueError naming a column that X holds more than once (among ``needed``, if given):
    selecting it returns a frame, not a column, and a one-row dict keeps only one of them."""
    if columns.is_unique:
        return
    dups = list(columns[columns.duplicated()].unique())
    if needed is not None:
        needed = set(needed)
        dups = [c for c in dups if c in needed]
    if dups:
        raise ValueError(f"X has the column {dups[0]!r} more than once")


def epoch_seconds(stamps: np.ndarray, missing: np.ndarray | bool = False) -> np.ndarray:
    """Seconds since the epoch of naive UTC datetime64 values, counted in their own unit.

    Not through datetime64[ns]: pandas 3 holds dates outside 1677-2262 (a 9999-12-31 "no end
    date", a year 1500) in coarser units, and a cast to ns wraps them around silently.
    """
    per_second = np.timedelta64(1, "s") / np.timedelta64(1, np.datetime_data(stamps.dtype)[0])
    counts = stamps.astype(np.int64).astype(np.float64)
    return np.where(missing, np.nan, counts / per_second)


# pandas' infer_dtype names of object columns read as quantities, not labels: datetimes, dates
# (what ``.dt.date`` gives), durations, Decimals (what SQL drivers give), and floats held as
# objects (what df.T.T, apply(axis=1) or astype(object) leave; an object array is inferred so
# already). As categories, one level per value, nearly all of them were rare and folded into the
# unknown vector: lost. Object columns of ints stay categories: astype(object) is how codes such
# as zip codes are marked categorical. The time kinds are read value by value (scalar_number),
# the others by the plain float cast.
_DATE_KINDS = ("datetime", "datetime64", "date")
_TIME_KINDS = (*_DATE_KINDS, "timedelta", "timedelta64")
_QUANTITY_KINDS = (*_TIME_KINDS, "decimal", "floating", "mixed-integer-float")


def arrow_labels(dtype: Any) -> bool:
    """Whether a pyarrow-backed dtype holds labels that pandas' dtype checks miss: a dictionary
    is pandas' category as ``read_parquet(dtype_backend="pyarrow")`` gives it back (kind "O", no
    string dtype), of whatever values, as a category of ints is still categorical; binary is
    bytes, which an object column holds as categories too."""
    if not isinstance(dtype, pd.ArrowDtype):
        return False
    import pyarrow as pa  # installed: an ArrowDtype exists only with it

    t = dtype.pyarrow_dtype
    return pa.types.is_dictionary(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t)


def holds_quantities(col: pd.Series) -> bool:
    """Whether an object column holds dates, times, durations, Decimals or floats (read as numbers).
    Floats that are all whole numbers are codes, as object ints are: a zip or store id that NaN
    made float64 and ``astype(object)`` then boxed."""
    kind = pd.api.types.infer_dtype(col, skipna=True)
    if kind in ("floating", "mixed-integer-float"):
        try:
            values = np.asarray(col.dropna(), dtype=float)
        except (TypeError, ValueError):
            return True
        finite = values[np.isfinite(values)]
        return finite.size == 0 or not np.array_equal(finite, np.round(finite))
    return kind in _QUANTITY_KINDS


def holds_datetimes(col: pd.Series) -> bool:
    """Whether a column holds datetimes or dates: a datetime64 dtype, or such objects."""
    return pd.api.types.is_datetime64_any_dtype(col.dtype) or (
        pd.api.types.is_object_dtype(col.dtype) and pd.api.types.infer_dtype(col, skipna=True) in _DATE_KINDS
    )


def scalar_number(v: Any) -> float:
    """One continuous value as ``numeric_values`` reads a column: NaN for missing, datetimes as
    seconds since the epoch, durations as seconds."""
    if v is None or v is pd.NA or v is pd.NaT:
        return math.nan
    if isinstance(v, (datetime.date, np.datetime64)):  # a datetime.datetime is a date too
        ts = pd.Timestamp(v)
        if ts is pd.NaT:
            return math.nan
        if ts.tz is not None:
            ts = ts.tz_convert("UTC").tz_localize(None)
        return float(epoch_seconds(np.asarray(ts.asm8)))  # in its own unit, as the batch path
    if isinstance(v, (datetime.timedelta, np.timedelta64)):
        td = pd.Timedelta(v)
        return math.nan if td is pd.NaT else td.total_seconds()
    return float(v)


def numeric_values(col: pd.Series, name: Any, date_advice: bool = False) -> np.ndarray:
    """float64 values of a continuous column (NaN for missing); datetimes become epoch seconds.
    ``date_advice``: text that reads as ISO dates is met with "convert it with pd.to_datetime"
    (at fit; at predict a column of numbers must not be told to take dates)."""
    if isinstance(col.dtype, pd.ArrowDtype) and col.dtype.kind in "mM":
        # pyarrow timestamps, dates and durations (read_parquet(dtype_backend="pyarrow")) as
        # numpy's, in their own unit: their to_numpy() gave objects, and a bare TypeError below.
        at = col.dtype.pyarrow_dtype
        unit = getattr(at, "unit", "s")  # date32 / date64 have none: days and ms are whole seconds
        kind = "timedelta64" if col.dtype.kind == "m" else "datetime64"
        col = col.astype(f"{kind}[{unit}, UTC]" if getattr(at, "tz", None) else f"{kind}[{unit}]")
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        # Seconds since the epoch; NaT becomes NaN and is filled like any missing value.
        if getattr(col.dtype, "tz", None) is not None:
            col = col.dt.tz_convert("UTC").dt.tz_localize(None)
        return epoch_seconds(col.to_numpy(), col.isna().to_numpy())
    if pd.api.types.is_timedelta64_dtype(col.dtype):
        return col.dt.total_seconds().to_numpy(np.float64)  # NaT -> NaN (not int64 min)
    if pd.api.types.is_complex_dtype(col.dtype):
        raise ValueError(f"Complex data not supported: column {name!r} is {col.dtype}")
    if pd.api.types.is_object_dtype(col.dtype) and pd.api.types.infer_dtype(col, skipna=True) in _TIME_KINDS:
        # Timestamps, numpy datetimes or durations in an object column (rows gathered from Series,
        # astype(object), numpy object arrays) are read value by value as the one-row path reads
        # them: a float cast gives a np.datetime64's raw count in its own unit, and
        # pd.to_datetime forces nanoseconds, where 9999-12-31 overflows.
        return np.array([scalar_number(v) for v in col.to_numpy()], dtype=np.float64)
    try:
        v = col.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as e:
        advice = (
            "convert it with pd.to_datetime (dates are read as seconds)"
            if date_advice and iso_dates(col) is not None
            else "list it in cat_features or convert it"
        )
        raise ValueError(f"continuous column {name!r} holds non-numeric values ({e}); {advice}") from None
    return refuse_inf(v, name)


def refuse_inf(v: np.ndarray, name: Any) -> np.ndarray:
    """``v`` of the column ``name``, or a ValueError naming the column when it holds +/-inf."""
    if np.isinf(v).any():
        raise ValueError(f"column {name!r} contains +/-inf; replace it with NaN or a finite value")
    return v


ISO_DATE = r"\s*\d{4}-\d{2}-\d{2}"  # how an ISO 8601 date string starts
# A whole ISO 8601 date or date-time, with an optional offset.
_ISO_FULL = ISO_DATE + r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?\s*"


def _iso_parse(words: pd.Series) -> pd.Series:
    """UTC datetimes of a column's strings; NaT where a value is no ISO 8601 date (2024-02-30,
    a word, a number, a missing value)."""
    is_text = np.fromiter((isinstance(v, str) for v in words.to_numpy(object)), dtype=bool, count=len(words))
    text = words.where(is_text)  # the .str accessor refuses an object column of flags and NaN (a CSV's True/False)
    iso = text.str.match(ISO_DATE, na=False)
    parsed = pd.to_datetime(text.where(iso), format="ISO8601", utc=True, errors="coerce")
    if _PANDAS_2:
        # pandas 2.x parses into nanoseconds, where dates outside 1677-2262 (9999-12-31, an open
        # end) are NaT; its Timestamp reads them in a coarser unit, as pandas 3 does.
        # Only whole ISO 8601 text: pandas 2's Timestamp also reads "2024-01-01 5pm", which the
        # format="ISO8601" parse (and pandas 3) call no date.
        lost = np.flatnonzero((iso & parsed.isna() & text.str.fullmatch(_ISO_FULL, na=False)).to_numpy())
        if len(lost):
            parsed = parsed.astype(object)
            for i in lost:
                try:
                    ts = pd.Timestamp(text.iloc[i])
                except (ValueError, OverflowError):  # 2024-02-30: no date, as above
                    continue
                parsed.iloc[i] = ts.tz_convert("UTC") if ts.tz is not None else ts.tz_localize("UTC")
    return parsed


def iso_dates(col: pd.Series) -> pd.Series | None:
    """The column as UTC datetimes when every value is an ISO 8601 date string (what CSV files
    hold: "2024-05-01", "2024-05-01T10:00:00+02:00"), else None."""
    if not (pd.api.types.is_object_dtype(col.dtype) or pd.api.types.is_string_dtype(col.dtype)):
        return None
    present = col.notna().to_numpy()
    if not present.any():
        return None
    dates = _iso_parse(col)
    return None if dates[present].isna().any() else dates


def date_values(col: pd.Series, name: Any) -> np.ndarray:
    """``numeric_values`` of a column that held datetimes at fit, where ISO 8601 text among its
    values reads as UTC dates (a CSV holds dates as text). Text is parsed where it stands and
    every other value is read as ``scalar_number`` reads it, so a batch gives what its rows give
    one at a time, whatever the column's dtype (object, str, category)."""
    if isinstance(col.dtype, pd.CategoricalDtype) or arrow_labels(col.dtype):
        col = col.astype(object)  # categories of date text (pandas' or pyarrow's): their values
    if not (pd.api.types.is_object_dtype(col.dtype) or pd.api.types.is_string_dtype(col.dtype)):
        return numeric_values(col, name)
    values = col.to_numpy(dtype=object)
    text = np.fromiter((isinstance(v, str) for v in values), dtype=bool, count=len(values))
    if not text.any():
        return numeric_values(col, name)
    words = pd.Series(values[text], dtype=object)
    parsed = _iso_parse(words)
    if parsed.isna().any():
        bad = words[parsed.isna().to_numpy()]
        raise ValueError(
            f"column {name!r} held datetimes at fit, and here holds text that is not an ISO 8601 date, "
            f"such as {bad.iloc[0]!r}; write dates as 2024-05-01 (a time may follow) or convert the "
            "column with pd.to_datetime"
        )
    out = np.empty(len(values), dtype=np.float64)
    out[text] = numeric_values(parsed, name)
    if not text.all():
        try:
            out[~text] = [scalar_number(v) for v in values[~text]]
        except (TypeError, ValueError):
            raise ValueError(f"continuous column {name!r} holds non-numeric values besides its dates") from None
    return refuse_inf(out, name)


def mean_std(v: np.ndarray, w: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations (axis 0) of finite float values, weighted by the
    rows' ``w`` when given, computed on the values divided by a power of two near each column's
    largest magnitude: the squares of 1e160 overflow to inf, and those of 1e-200 underflow to 0,
    where the scaled values' squares do neither.
    """
    v = np.asarray(v, dtype=np.float64)
    big = np.abs(v).max(axis=0) if len(v) else np.zeros(v.shape[1:])
    # A power of two divides exactly: on ordinary data the results equal numpy's to the last bit.
    big = np.exp2(np.ceil(np.log2(np.where(big > 0, big, 1.0))))
    u = v / big
    if w is None:
        return u.mean(axis=0) * big, u.std(axis=0) * big
    mean = np.average(u, axis=0, weights=w)
    return mean * big, np.sqrt(np.average((u - mean) ** 2, axis=0, weights=w)) * big


def tabular_tags(tags: Any, random_state: Any) -> Any:
    """The scikit-learn input tags every tabdl model shares: it takes NaN, categorical and
    string columns, and is deterministic once ``random_state`` is set."""
    tags.input_tags.allow_nan = True
    tags.input_tags.categorical = True
    tags.input_tags.string = True
    tags.non_deterministic = random_state is None
    return tags
