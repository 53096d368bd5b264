"""The estimators' docstrings keep up with their code: every constructor parameter has a numpydoc
entry under "Parameters" (and no entry names a parameter that is gone), every fitted attribute
one under "Attributes", and the examples run."""

import doctest
import inspect
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tabdl import EntityEmbeddingEncoder, MatrixFactorization, TabularClassifier, TabularRegressor
from tabdl._docs import ATTRIBUTES

ESTIMATORS = [TabularRegressor, TabularClassifier, MatrixFactorization, EntityEmbeddingEncoder]


def section_names(obj, section: str) -> list[str]:
    """The names a numpydoc section of ``obj``'s docstring documents, in order: its unindented
    lines up to the next section (a line underlined by dashes), ``a, b : type`` giving a and b."""
    lines = inspect.getdoc(obj).splitlines()
    try:
        start = (
            next(i for i in range(len(lines) - 1) if lines[i].strip() == section and set(lines[i + 1].strip()) == {"-"})
            + 2
        )
    except StopIteration:
        raise AssertionError(f"{obj.__name__}'s docstring has no {section!r} section") from None
    names = []
    for i in range(start, len(lines)):
        if i + 1 < len(lines) and lines[i + 1].strip() and set(lines[i + 1].strip()) == {"-"}:
            break  # the next section's title
        line = lines[i]
        if line.strip() and not line[0].isspace():
            names += [n.strip() for n in line.split(" : ")[0].split(",")]
    return names


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_every_parameter_is_documented(cls):
    documented = section_names(cls, "Parameters")
    params = list(cls().get_params(deep=False))
    assert not set(params) - set(documented), f"{cls.__name__}: parameters without docs"
    assert not set(documented) - set(params), f"{cls.__name__}: docs of no parameter"
    assert len(documented) == len(set(documented)), f"{cls.__name__}: a parameter documented twice"


def test_the_check_sees_an_undocumented_parameter():
    class Documented:
        """Something.

        Parameters
        ----------
        a, b : int
            Two.
        c : int
            Three.

        Attributes
        ----------
        d_ : int
        """

    assert section_names(Documented, "Parameters") == ["a", "b", "c"]
    assert section_names(Documented, "Attributes") == ["d_"]
    assert "e" not in section_names(Documented, "Parameters")  # a new parameter e would fail above


def _fitted():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"color": rng.choice(["red", "green", "blue"], 120), "size": rng.normal(size=120)})
    y = X["size"] + (X["color"] == "red")
    ratings = pd.DataFrame({"user": rng.integers(0, 8, 120), "item": rng.integers(0, 12, 120)})
    kw = {"epochs": 1, "n_bags": 1, "random_state": 0}
    return [
        TabularRegressor(**kw).fit(X, y),
        TabularClassifier(**kw, threshold="auto").fit(X, y > 1),
        MatrixFactorization(epochs=1, random_state=0).fit(ratings, rng.integers(1, 6, 120)),
        EntityEmbeddingEncoder(min_category_count=3, estimator_params={"epochs": 1}, random_state=0).fit(X, y),
    ]


def test_every_fitted_attribute_is_documented():
    for est in _fitted():
        cls = type(est)
        fitted = {k for k in vars(est) if k.endswith("_") and not k.startswith("_")}
        fitted |= {k for k, v in vars(cls).items() if isinstance(v, property) and k.endswith("_")}
        documented = set(section_names(cls, "Attributes"))
        assert not fitted - documented, f"{cls.__name__}: fitted attributes without docs"


@pytest.mark.parametrize("cls", ESTIMATORS[:3], ids=lambda c: c.__name__)
def test_the_examples_run(cls):
    (test,) = doctest.DocTestFinder(recurse=False).find(cls, cls.__name__)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


def test_matrix_factorization_methods_say_what_they_take():
    # fine_tune's doc was the tabular one (a classifier's new head, sample_weight "as in fit", which
    # has none), and fit_one_cycle(X, y, **kwargs) hid its arguments.
    for name in ("fit_one_cycle", "fine_tune", "lr_find"):
        method = getattr(MatrixFactorization, name)
        assert "classif" not in method.__doc__ and "as in ``fit``" not in method.__doc__, name
    params = inspect.signature(MatrixFactorization.fit_one_cycle).parameters
    assert {"epochs", "lr", "sample_weight", "eval_set"} <= set(params)
    assert all(p.kind is not p.VAR_KEYWORD for p in params.values())
    for name in ("fit_one_cycle", "fine_tune"):
        documented = section_names(getattr(MatrixFactorization, name), "Parameters")
        assert documented == list(inspect.signature(getattr(MatrixFactorization, name)).parameters)[1:], name


def test_history_columns_come_in_the_documented_order():
    # The entry listed "valid_loss, lr, then one column per metrics entry"; the learner writes
    # the metrics beside valid_loss (they score the same validation rows) and lr last.
    doc = " ".join(ATTRIBUTES["history_"].split())
    named = r"\b(epoch|train_loss_smooth|train_loss|step|time|valid_loss|lr)\b|``metrics``"
    documented = list(dict.fromkeys(m.group(0) for m in re.finditer(named, doc)))
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"color": rng.choice(["red", "green"], 100), "size": rng.normal(size=100)})
    clf = TabularClassifier(epochs=1, n_bags=1, metrics=["f1", "mcc"], random_state=0).fit(X, X["size"] > 0)
    columns = list(dict.fromkeys("``metrics``" if c in ("f1", "mcc") else c for c in clf.history_.columns))
    assert documented == columns


def test_estimator_params_doc_names_what_it_takes_and_refuses():
    # The entry gave min_category_count as an example of an inner parameter, which fit refuses:
    # the encoder owns it (its own default, 100, is the leakage guard).
    entry = " ".join(inspect.getdoc(EntityEmbeddingEncoder).split("estimator_params : ")[1].split("axes : ")[0].split())
    taken = re.findall(r"``(\w+)``", entry.split("...")[0])  # the examples, up to "..."
    refused = re.findall(r"``(\w+)``", entry.partition("but not")[2].split(")")[0])
    X = pd.DataFrame({"color": ["red", "green"] * 20, "size": np.arange(40.0)})
    defaults = TabularRegressor().get_params()
    for name in taken:  # each example is an inner parameter, and accepted
        EntityEmbeddingEncoder(estimator_params={name: defaults[name]})._validate_params()
    assert {"cat_features", "min_category_count"} <= set(refused)
    for name in refused:
        if name in defaults:
            with pytest.raises(ValueError, match=name):
                EntityEmbeddingEncoder(estimator_params={name: defaults[name]}).fit(X, X["size"])


def test_matrix_factorization_quotes_the_validation_rmse_of_its_defaults():
    # "valid RMSE (seed 0) 0.8658 for these defaults" was plain MF's figure from before the
    # neighbour correction became the default; collab.md's default row holds 0.8577 there.
    results = Path(__file__).resolve().parent.parent / "benchmarks" / "results" / "collab.md"
    rows = {
        line.split("|")[1].strip(): line.split("|")[3].strip()
        for line in results.read_text().splitlines()
        if line.startswith("| ") and "n_neighbors=" in line
    }  # split 1, seed 0
    doc = " ".join(inspect.getdoc(MatrixFactorization).split())
    quoted = re.search(r"valid RMSE \(seed 0\) (0\.\d+) for these defaults", doc)
    assert quoted, "the docstring no longer quotes the defaults' validation RMSE"
    default = next(v for k, v in rows.items() if "(default)" in k)
    plain = next(v for k, v in rows.items() if k.startswith("`n_neighbors=0`"))
    # the figure stands for the defaults, or says it is plain MF's and gives the default's beside it
    assert quoted.group(1) == default or ("n_neighbors=0" in doc[quoted.end() : quoted.end() + 80] and default in doc)
    assert quoted.group(1) in (default, plain)
