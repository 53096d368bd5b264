import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from tabdl import TabularClassifier, TabularRegressor


def fast(cls, **kw):
    """Small, seeded estimators: the checks fit dozens of times."""
    return cls(**{"epochs": 2, "layers": (32, 16), "random_state": 0, **kw})


def _expected_failures(est):
    if isinstance(est, TabularClassifier):
        return {
            "check_class_weight_classifiers": (
                "a 2-epoch net on 45 noisy rows takes ~6 optimiser steps and stays near uniform "
                "probabilities whatever the loss weights; tests/test_sampling.py checks that "
                "class weights reach the loss and move the predictions"
            )
        }
    return {}


@parametrize_with_checks(
    [fast(TabularRegressor), fast(TabularClassifier)], expected_failed_checks=_expected_failures
)
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
