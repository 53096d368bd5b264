import itertools
import warnings

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


@pytest.mark.parametrize(("name", "binary"), [("roc_auc", skm.roc_auc_score), ("pr_auc", skm.average_precision_score)])
def test_multiclass_auc_averages_the_classes_present(name, binary):
    # A rare class absent from a validation part has no AUC: it made roc_auc NaN on every epoch
    # and counted as 0 in pr_auc.
    proba, rng = _proba()
    y = rng.integers(0, 2, len(proba))  # class 2 never occurs
    expected = np.mean([binary(y == c, proba[:, c]) for c in (0, 1)])
    assert get_metric(name)(y, proba) == pytest.approx(expected)
    assert np.isnan(get_metric(name)(np.zeros(len(proba), int), proba))  # nothing to rank


@pytest.mark.parametrize("name", ["accuracy", "balanced_accuracy", "f1", "mcc"])
def test_label_metrics_from_confusion_counts_equal_sklearns(name):
    # tune_threshold scores its cuts from counts; they must be scikit-learn's scores, including
    # the degenerate cuts that predict every row, or none, positive (0/0 is 0 there), and a y of
    # one class (balanced accuracy is then that class's recall, not half of it).
    m = get_metric(name)
    rng = np.random.default_rng(3)
    cases = [(rng.random(300) < q).astype(np.int64) for q in (0.1, 0.5, 0.9)] + [
        np.zeros(300, np.int64),
        np.ones(300, np.int64),
    ]
    ys = [(rng.random(300) < 0.2).astype(np.int64), np.zeros(300, np.int64), np.ones(300, np.int64)]
    for y, pred in itertools.product(ys, cases):
        tp, fp = np.sum((pred == 1) & (y == 1)), np.sum((pred == 1) & (y == 0))
        fn, tn = np.sum((pred == 0) & (y == 1)), np.sum((pred == 0) & (y == 0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sklearn warns at 0/0 and scores it 0
            expected = m.func(y, pred)
        assert m.from_counts(tp, fp, fn, tn) == pytest.approx(expected, abs=1e-12)


def test_f1_of_a_multiclass_model_stays_macro_when_a_part_lacks_classes():
    from sklearn.metrics import f1_score

    from tabdl.metrics import METRICS

    y = np.array([0, 0, 0, 0, 1, 1])
    proba = np.eye(3)[[0, 0, 0, 1, 1, 0]] * 0.8 + 0.2 / 3  # a 3-class model; only classes 0 and 1 here
    pred = proba.argmax(axis=1)
    assert METRICS["f1"](y, proba) == pytest.approx(f1_score(y, pred, average="macro"))
    assert METRICS["f1"](y, proba) != pytest.approx(f1_score(y, pred, average="binary"))
    assert METRICS["f1"](y, proba[:, :2]) == pytest.approx(f1_score(y, proba[:, :2].argmax(1)))  # binary
