import numpy as np
import pandas as pd

from tabdl import TabularClassifier, TabularRegressor


def test_regressor_learns_mixed_frame():
    rng = np.random.default_rng(0)
    n = 600
    X = pd.DataFrame({"a": rng.normal(size=n), "c": rng.choice(["x", "y", "z"], size=n)})
    y = 2 * X["a"].to_numpy() + (X["c"] == "y").to_numpy() * 3.0
    reg = TabularRegressor(random_state=0, epochs=15).fit(X, y)
    assert np.sqrt(np.mean((reg.predict(X) - y) ** 2)) < 0.5 * y.std()


def test_classifier_proba_rows_sum_to_one():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=300)})
    y = np.where(X["a"] > 0, "pos", "neg")
    clf = TabularClassifier(random_state=0).fit(X, y)
    proba = clf.predict_proba(X)
    assert list(clf.classes_) == ["neg", "pos"]
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert (clf.predict(X) == y).mean() > 0.9
