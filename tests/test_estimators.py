import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from tabdl import TabularClassifier, TabularRegressor


def fast(cls, **kw):
    """Small, seeded estimators: the checks fit dozens of times."""
    return cls(**{"epochs": 2, "layers": (32, 16), "random_state": 0, **kw})


@parametrize_with_checks([fast(TabularRegressor), fast(TabularClassifier)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("cls", [TabularRegressor, TabularClassifier])
def test_clone_keeps_every_param(cls):
    est = cls(epochs=3, dropout=0.2, layers=(8,), random_state=5)
    params = clone(est).get_params()
    assert params["epochs"] == 3 and params["dropout"] == 0.2 and params["layers"] == (8,)
    assert params["random_state"] == 5
    if cls is TabularRegressor:
        assert "y_range" in params
