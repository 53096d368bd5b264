import numpy as np
import pytest
from sklearn import metrics as skm

from tabdl.metrics import get_metric


def _proba(n=80, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.ones(k), n), rng


def test_multiclass_auc_with_every_class_present_is_sklearns_one_vs_rest():
    proba, rng = _proba()
    y = rng.integers(0, 3, len(proba))
    expected = skm.roc_auc_score(y, proba, multi_class="ovr")
    assert get_metric("roc_auc")(y, proba) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("name", "binary"), [("roc_auc", skm.roc_auc_score), ("pr_auc", skm.average_precision_score)]
)
def test_multiclass_auc_averages_the_classes_present(name, binary):
    # A rare class absent from a validation part has no AUC: it made roc_auc NaN on every epoch
    # and counted as 0 in pr_auc.
    proba, rng = _proba()
    y = rng.integers(0, 2, len(proba))  # class 2 never occurs
    expected = np.mean([binary(y == c, proba[:, c]) for c in (0, 1)])
    assert get_metric(name)(y, proba) == pytest.approx(expected)
    assert np.isnan(get_metric(name)(np.zeros(len(proba), int), proba))  # nothing to rank
