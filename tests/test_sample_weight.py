"""sample_weight: exact weighted losses, and fits that follow the weights."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from tabdl import EntityEmbeddingEncoder, MatrixFactorization, TabularClassifier, TabularRegressor
from tabdl.ensemble import MemberLoss
from tabdl.learner import Learner, TensorData
from tabdl.losses import CrossEntropyLoss, MSELoss, weighted_mean
from tabdl.modules import TabularMLP
from tabdl.sampling import (
    OversampleSampler,
    PriorCorrectedLoss,
    prior_corrected_loss,
    training_priors,
)

FAST = dict(epochs=4, layers=(16,), random_state=0, n_bags=1)


# >>> the losses: a row of weight w counts as w rows
def _repeat(t, counts):
    return t.repeat_interleave(torch.as_tensor(counts), dim=0)


@pytest.mark.parametrize(
    "loss, class_weight",
    [
        (CrossEntropyLoss(), None),
        (CrossEntropyLoss(weight=torch.tensor([0.3, 2.0, 1.0]), label_smoothing=0.1), torch.tensor([0.3, 2.0, 1.0])),
        (PriorCorrectedLoss(np.log([0.5, 2.0, 1.0])), None),
    ],
)
def test_weighted_cross_entropy_is_repeated_rows_up_to_the_normaliser(loss, class_weight):
    g = torch.Generator().manual_seed(0)
    out, y = torch.randn(6, 3, generator=g), torch.tensor([0, 1, 2, 1, 0, 2])
    counts = torch.tensor([1, 3, 0, 2, 1, 4])
    # Weighted, a batch keeps the unweighted normaliser (rows, or their class weights), so the
    # loss is the repeated rows' times (weighted normaliser / unweighted one): without class
    # weights, weights of mean 1 over the data make that factor 1 on average; with them, a
    # constant (tabdl.losses).
    norm = torch.ones(6) if class_weight is None else class_weight[y]
    weighted = loss(out, y, counts.float()) * norm.sum() / (counts * norm).sum()
    torch.testing.assert_close(weighted, loss(_repeat(out, counts), _repeat(y, counts)))


def test_weighted_mse_is_repeated_rows_for_weights_of_mean_1():
    g = torch.Generator().manual_seed(1)
    out, y = torch.randn(5, 2, generator=g), torch.randn(5, 2, generator=g)
    counts = torch.tensor([2, 0, 1, 5, 1])
    data = TensorData(torch.zeros(5, 0, dtype=torch.int64), out, y, 7.0 * counts.float()).unit_weights()
    torch.testing.assert_close(data.w.mean(), torch.tensor(1.0))
    torch.testing.assert_close(data.loss(MSELoss(), out), MSELoss()(_repeat(out, counts), _repeat(y, counts)))


def test_heavy_rows_count_fully_in_training():
    """Ten rows of weight 100 among 2,000 of weight 1, on a feature that tells nothing: the fit
    must land at the weighted mean 10 * 1000 / 3000 = 3.33, as the rows repeated do (3.36).
    Dividing each batch by its own weight sum under-counted them (2.90 on this seed)."""
    X = pd.DataFrame({"a": np.ones(2010)})
    y = np.r_[np.zeros(2000), np.full(10, 10.0)]
    w = np.r_[np.ones(2000), np.full(10, 100.0)]
    reg = TabularRegressor(epochs=6, layers=(16,), n_bags=1, validation_fraction=None, batch_size=256, random_state=0)
    assert abs(reg.fit(X, y, sample_weight=w).predict(X.iloc[:5]).mean() - 10 / 3) < 0.3


def test_unweighted_call_is_torch_exactly():
    g = torch.Generator().manual_seed(2)
    out, y = torch.randn(8, 3, generator=g), torch.randint(0, 3, (8,), generator=g)
    cw = torch.tensor([1.0, 3.0, 0.5])
    assert torch.equal(
        CrossEntropyLoss(weight=cw, label_smoothing=0.05)(out, y),
        torch.nn.CrossEntropyLoss(weight=cw, label_smoothing=0.05)(out, y),
    )
    t = torch.randn(8, 3, generator=g)
    assert torch.equal(MSELoss()(out, t), torch.nn.MSELoss()(out, t))


def test_member_loss_weighs_every_members_rows():
    g = torch.Generator().manual_seed(3)
    out, y = torch.randn(4, 2, 3, generator=g), torch.tensor([0, 2, 1, 1])  # (B, k, n_out)
    w = torch.tensor([1.0, 0.0, 2.0, 1.0])
    per_member = [CrossEntropyLoss()(out[:, j], y, w) for j in range(2)]
    torch.testing.assert_close(MemberLoss(CrossEntropyLoss())(out, y, w), torch.stack(per_member).mean())


def test_a_batch_of_zero_weights_gives_zero_not_nan():
    per_row = torch.tensor([1.0, 2.0], requires_grad=True)
    loss = weighted_mean(per_row, torch.zeros(2))
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(per_row.grad, torch.zeros(2))


def test_learner_validation_loss_is_weighted():
    torch.manual_seed(0)
    model = TabularMLP(cardinalities=[], emb_dims=[], n_cont=2, n_out=1, layers=[8])
    learner = Learner(model, MSELoss())
    x, y = torch.randn(10, 2), torch.randn(10, 1)
    y[7:] += 100.0  # rows weighted 0 below
    w = torch.tensor([1.0] * 7 + [0.0] * 3)
    empty = torch.zeros(10, 0, dtype=torch.int64)
    weighted = learner.validate(TensorData(empty, x, y, w))["valid_loss"]
    clean = learner.validate(TensorData(empty[:7], x[:7], y[:7]))["valid_loss"]
    assert weighted == pytest.approx(clean, rel=1e-5)


# >>> priors: row weights define the data's prior and shift nothing by themselves
def test_priors_follow_row_weights():
    y = np.array([0, 0, 0, 1])
    w = np.array([1.0, 1.0, 1.0, 9.0])
    np.testing.assert_allclose(training_priors(y, 2, sample_weight=w), [0.25, 0.75])
    assert prior_corrected_loss(y, 2, sample_weight=w) is None
    # Oversampling draws both classes equally; each drawn row carries its class's mean weight.
    sampler = OversampleSampler(y, 2)
    np.testing.assert_allclose(training_priors(y, 2, sampler, sample_weight=w), [0.1, 0.9])
    loss = prior_corrected_loss(y, 2, sampler, sample_weight=w)
    np.testing.assert_allclose(loss.log_ratio.numpy(), np.log([0.25 / 0.1, 0.75 / 0.9]), rtol=1e-6)


# >>> the estimators
def _two_groups(n=400, seed=0):
    """Two groups of rows that no feature tells apart, with targets 0 and 10."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "c": rng.choice(["x", "y"], size=n)})
    group = np.arange(n) % 2
    return X, 10.0 * group, group


def test_regressor_follows_the_weights():
    X, y, group = _two_groups()
    plain = TabularRegressor(**FAST).fit(X, y).predict(X).mean()
    heavy = TabularRegressor(**FAST).fit(X, y, sample_weight=np.where(group == 1, 9.0, 1.0)).predict(X).mean()
    assert abs(plain - 5.0) < 1.5  # the unweighted mean of the targets
    assert abs(heavy - 9.0) < 1.5  # the weighted one: (0 * 1 + 10 * 9) / 10


def test_classifier_follows_the_weights():
    X, _, group = _two_groups()
    heavy = TabularClassifier(**FAST).fit(X, group, sample_weight=np.where(group == 1, 4.0, 1.0))
    assert abs(heavy.predict_proba(X)[:, 1].mean() - 0.8) < 0.1  # 4 / (4 + 1)
    assert (heavy.predict(X) == 1).mean() > 0.9


def test_rows_of_weight_zero_are_ignored():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=300)})
    y = 2.0 * X["a"].to_numpy()
    junk = np.arange(300) % 3 == 0
    y_bad = np.where(junk, 1e3, y)  # a third of the targets are garbage, weighted 0
    ignored = TabularRegressor(**FAST).fit(X, y_bad, sample_weight=(~junk).astype(float)).predict(X)
    assert np.abs(ignored - y).mean() < 0.5
    assert np.abs(TabularRegressor(**FAST).fit(X, y_bad).predict(X) - y).mean() > 50


@pytest.mark.parametrize("cls", [TabularRegressor, TabularClassifier])
def test_equal_weights_are_the_unweighted_fit(cls):
    X, y, group = _two_groups(n=200)
    target = y if cls is TabularRegressor else group
    plain = cls(**FAST).fit(X, target)
    for w in (3.0, np.full(len(X), 0.5), pd.Series(np.ones(len(X)), index=X.index + 100), list(np.ones(len(X)))):
        same = cls(**FAST).fit(X, target, sample_weight=w)
        np.testing.assert_array_equal(same.history_["valid_loss"], plain.history_["valid_loss"])
        np.testing.assert_array_equal(same.predict(X), plain.predict(X))


def test_eval_set_rows_are_weighted_too():
    X, y, group = _two_groups(n=200)
    Xv, yv, gv = _two_groups(n=100, seed=1)
    fit = TabularRegressor(**FAST).fit(X, y, eval_set=(Xv, yv, np.where(gv == 1, 1.0, 0.0)))
    # Scored on the group-1 rows only (targets 10): the mean squared error of the predictions there.
    pred = fit.predict(Xv[gv == 1])
    assert fit.history_["valid_loss"].iloc[fit.best_epoch_ - 1] == pytest.approx(
        np.mean(((pred - 10.0) / fit.y_std_) ** 2), rel=1e-3
    )


@pytest.mark.parametrize(
    "w, match",
    [
        (np.ones(5), "one number per row of X"),
        (-np.ones(200), "must be >= 0, got -1.0 at row 0"),
        (np.r_[np.nan, np.ones(199)], "contains NaN"),
        (np.zeros(200), "zero for every row"),
        ("heavy", "must be a number"),
        (np.ones((200, 2)), "sample_weight"),
        (
            np.r_[1.0, np.zeros(199)],
            "1 of 200 rows weigh more than zero, and the validation cut needs one on each side",
        ),
    ],
)
def test_bad_sample_weight_is_refused_by_name(w, match):
    X, y, _ = _two_groups(n=200)
    with pytest.raises(ValueError, match=match):
        TabularRegressor(**FAST).fit(X, y, sample_weight=w)


def test_the_validation_cut_holds_weighted_rows():
    """Sparse weights: 10 of 400 rows weigh 1. A cut that ignored them could leave the validation
    part all at weight 0 (its loss 0 every epoch, the first epoch kept); stratified, every net of a
    bag validates on weighted rows."""
    X, y, group = _two_groups(n=400)
    w = np.zeros(400)
    w[:10] = 1.0
    for cls, target in ((TabularRegressor, y), (TabularClassifier, group)):
        fit = cls(**{**FAST, "n_bags": 3}).fit(X, target, sample_weight=w)
        cuts = fit._cuts(target, 3, True, w)
        assert all(w[va].sum() > 0 and w[tr].sum() > 0 for tr, va in cuts)
        assert fit.history_["valid_loss"].gt(0).all()


def test_a_few_zero_weights_keep_the_class_stratification():
    y = np.r_[np.zeros(960, int), np.ones(40, int)]
    X = pd.DataFrame({"a": np.zeros(1000)})
    w = np.ones(1000)
    w[[0, 999]] = 0.0  # one junk row per class: (class, weight > 0) strata of one row cannot split
    clf = TabularClassifier(validation_fraction=0.05)
    clf._setup(X, y, None)  # seed_ and the rest of the fitted state _cuts reads
    for i in range(6):
        clf.seed_ = i
        assert y[clf._cuts(y, 1, True, w)[0][1]].sum() == 2  # the minority's share, as unweighted


def test_a_tiny_cut_gets_a_weighted_row_swapped_in():
    y = np.r_[np.zeros(8, int), np.ones(8, int)]
    X = pd.DataFrame({"a": np.zeros(16)})
    w = np.tile([1.0, 0.0], 8)
    clf = TabularClassifier(validation_fraction=0.1)  # one validation row
    clf._setup(X, y, None)
    for i in range(12):
        clf.seed_ = i
        tr, va = clf._cuts(y, 1, True, w)[0]
        assert w[va].any() and w[tr].any() and sorted(np.r_[tr, va]) == list(range(16))


def test_positive_weights_leave_the_cut_as_it_was():
    rng = np.random.default_rng(0)
    y = rng.normal(size=200)
    for est, target in ((TabularRegressor(), y), (TabularClassifier(), (y > 0).astype(int))):
        est._setup(pd.DataFrame({"a": y}), target, None)
        np.testing.assert_array_equal(
            est._cuts(target, 1, True)[0][1], est._cuts(target, 1, True, rng.uniform(1, 2, 200))[0][1]
        )


def test_sampling_does_not_combine_with_weights():
    X, _, group = _two_groups(n=200)
    w = np.where(group == 1, 3.0, 1.0)
    for sampling in ("oversample", "undersample"):
        with pytest.raises(ValueError, match=f"sampling='{sampling}' .* does not combine with sample_weight"):
            TabularClassifier(sampling=sampling, **FAST).fit(X, group, sample_weight=w)
    clf = TabularClassifier(sampling="oversample", **FAST).fit(X, group)
    with pytest.raises(ValueError, match="does not combine with sample_weight"):
        clf.fit_one_cycle(X, group, sample_weight=w)
    TabularClassifier(sampling="oversample", **FAST).fit(X, group, sample_weight=np.ones(200))  # equal: fine


def test_heavy_rows_are_no_divergence_for_the_epoch_check():
    """20,000 rows: the guard scores subsamples. Evenly spaced ones with their weights read rows of
    weight 1e4 that the epoch-end sample held and the starting one did not as a blow-up."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=20000)})
    y = 0.3 * X["a"].to_numpy() + rng.normal(size=20000)
    w = np.ones(20000)
    w[5:200:10] = 1e4  # in every 5th row, never in every 2nd
    reg = TabularRegressor(epochs=2, layers=(16,), n_bags=1, lr=1e-3, validation_fraction=None, random_state=0)
    assert not reg.fit(X, y, sample_weight=w).diverged_


def test_weighted_rows_estimate_the_weighted_mean():
    g = torch.Generator().manual_seed(0)
    y = torch.randn(1000, 1, generator=g)
    w = torch.ones(1000)
    w[::100] = 1000.0
    data = TensorData(torch.zeros(1000, 0, dtype=torch.int64), torch.zeros(1000, 0), y, w)
    exact = data.unit_weights().loss(MSELoss(), torch.zeros(1000, 1))
    for g in (None, torch.Generator().manual_seed(1)):  # systematic, then at random
        idx = data.weighted_draw(2000, g)
        assert len(idx) == 2000 and 0.88 < (idx % 100 == 0).float().mean() < 0.94  # the heavy rows hold 0.91
        torch.testing.assert_close(MSELoss()(torch.zeros(2000, 1), y[idx]), exact, rtol=0.15, atol=0)


def test_lr_find_draws_weighted_rows_without_spikes():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=2000)})
    y = X["a"].to_numpy() + rng.normal(size=2000)
    w = np.ones(2000)
    w[np.random.default_rng(0).choice(2000, 3, replace=False)] = 1e4  # 94 % of the weight on three rows
    res = TabularRegressor(layers=(16,), n_bags=1, random_state=0, batch_size=64).lr_find(X, y, sample_weight=w)
    # Weighted batches spiked whenever they held a heavy row: suggestion 5e-7 (the rows repeated: 0.01).
    assert len(res.lrs) > 50 and res.suggestion > 1e-3


def test_weights_float32_cannot_hold_count_as_zero():
    X, y, _ = _two_groups(n=300)
    w = np.r_[np.ones(6), np.full(294, 1e-50)]
    fit = TabularRegressor(**FAST).fit(X, y, sample_weight=w)
    assert fit.history_["valid_loss"].gt(0).all()


def test_extreme_weights_are_scaled_before_float32():
    X, y, group = _two_groups(n=200)
    reg = TabularRegressor(**FAST).fit(X, y, sample_weight=np.where(group == 1, 1e308, 1e307))
    assert np.isfinite(reg.predict(X)).all() and reg.y_mean_[0] == pytest.approx(100 / 11)


def test_balanced_class_weights_count_row_weights():
    X, _, group = _two_groups(n=200)
    w = np.where(group == 1, 3.0, 1.0)
    weighted = TabularClassifier(class_weight="balanced", **FAST).fit(X, group, sample_weight=w)
    repeated = TabularClassifier(class_weight="balanced", **FAST).fit(
        X.loc[X.index.repeat(w.astype(int))], np.repeat(group, w.astype(int))
    )
    np.testing.assert_allclose(weighted.class_weight_, repeated.class_weight_)  # [2, 2/3]


def test_threshold_rule_weighs_the_validation_rows(monkeypatch):
    import tabdl.estimators as est_mod

    seen = []
    real = est_mod.tune_prior_correction
    monkeypatch.setattr(
        est_mod,
        "tune_prior_correction",
        lambda y, proba, *a, **k: seen.append((y, k["sample_weight"])) or real(y, proba, *a, **k),
    )
    X, _, group = _two_groups(n=300)
    y = np.arange(300) % 3
    w = np.where(y == 2, 0.0, np.where(y == 1, 3.0, 1.0))  # class 2 weighs nothing
    TabularClassifier(threshold="auto", **FAST).fit(X, y, sample_weight=w)
    ((labels, weights),) = seen
    assert len(labels) > 0 and 2 not in labels
    np.testing.assert_allclose(weights / weights.min(), np.where(labels == 1, 3.0, 1.0), rtol=1e-6)


@pytest.mark.parametrize("method", ["empirical", "calibrated"])
def test_a_weighted_cut_is_the_repeated_rows_cut(method):
    from tabdl.sampling import tune_threshold

    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.3).astype(int)
    p = np.clip(0.3 * y + 0.7 * rng.random(300), 0, 1).round(2)  # ~100 distinct scores
    counts = rng.integers(1, 4, 300)
    kw = dict(method=method, n_bootstrap=0) if method == "empirical" else dict(method=method)
    weighted = tune_threshold(y, p, "f1", sample_weight=counts, **kw)
    repeated = tune_threshold(np.repeat(y, counts), np.repeat(p, counts), "f1", **kw)
    assert weighted == pytest.approx(repeated, abs=0 if method == "empirical" else 0.02)
    assert weighted != tune_threshold(y, p, "f1", sample_weight=np.where(y == 1, 5.0, 1.0), **kw)


def test_weighted_cuts_at_the_edges():
    from tabdl.sampling import tune_threshold

    rng = np.random.default_rng(0)
    y = (rng.random(200) < 0.3).astype(int)
    p = np.clip(0.3 * y + 0.7 * rng.random(200), 0, 1)
    plain = tune_threshold(y, p, "f1")
    # Huge equal weights: the weights' mean overflowed (1e306 x 200), and the cut moved.
    assert tune_threshold(y, p, "f1", sample_weight=np.full(200, 1e306)) == pytest.approx(plain)
    # Rows of weight 0 are no rows: not candidates, not counted.
    extra_y, extra_p = np.r_[y, np.ones(50, int)], np.r_[p, rng.random(50)]
    assert tune_threshold(extra_y, extra_p, "f1", sample_weight=np.r_[np.ones(200), np.zeros(50)]) == pytest.approx(
        plain
    )
    # Positives of weight 1e-8: the Platt fit went flat and the cut fell below every score;
    # a class lighter than one row falls back to the empirical cut.
    light = np.where(y == 1, 1e-8, 1.0)
    cut = tune_threshold(y, p, "f1", sample_weight=light)
    assert cut == tune_threshold(y, p, "f1", sample_weight=light, method="empirical") and cut > p.min()


def test_multiclass_auc_leaves_out_a_class_of_no_weight():
    from tabdl.metrics import METRICS

    rng = np.random.default_rng(0)
    y, proba = np.arange(60) % 3, rng.dirichlet([1, 1, 1], size=60)
    w = np.where(y == 2, 0.0, 1.0)
    two = y < 2
    expected = METRICS["roc_auc"](y[two], proba[two][:, [0, 1, 2]])
    assert METRICS["roc_auc"](y, proba, sample_weight=w) == pytest.approx(expected)


def test_history_metrics_weigh_the_validation_rows():
    from sklearn.metrics import mean_squared_error

    X, y, group = _two_groups(n=200)
    Xv, yv, gv = _two_groups(n=100, seed=1)
    yv_junk = np.where(gv == 0, 1e3, yv)  # weighted 0 below
    fit = TabularRegressor(metrics=["rmse"], **FAST).fit(X, y, eval_set=(Xv, yv_junk, (gv == 1).astype(float)))
    pred = fit.predict(Xv[gv == 1])
    assert fit.history_["rmse"].iloc[fit.best_epoch_ - 1] == pytest.approx(
        mean_squared_error(yv[gv == 1], pred) ** 0.5, rel=1e-4
    )


def test_metrics_pass_weights_to_scikit_learn_and_to_callables_that_take_them():
    from sklearn.metrics import f1_score, roc_auc_score

    from tabdl.metrics import METRICS, get_metric

    rng = np.random.default_rng(0)
    y, proba = rng.integers(0, 2, 50), rng.dirichlet([1, 1], size=50)
    w = rng.uniform(0, 3, 50)
    assert METRICS["f1"](y, proba, sample_weight=w) == pytest.approx(f1_score(y, proba.argmax(1), sample_weight=w))
    assert METRICS["roc_auc"](y, proba, sample_weight=w) == pytest.approx(
        roc_auc_score(y, proba[:, 1], sample_weight=w)
    )
    mine = get_metric(lambda y_true, out: float(out[:, 1].mean()))
    assert mine(y, proba, sample_weight=w) == pytest.approx(proba[:, 1].mean())
    # A callable with scikit-learn's keyword gets the weights (named, or through **kwargs).
    weighted = get_metric(lambda y_true, out, sample_weight=None: float(np.average(out[:, 1], weights=sample_weight)))
    assert weighted(y, proba, sample_weight=w) == pytest.approx(np.average(proba[:, 1], weights=w))
    assert weighted(y, proba) == pytest.approx(proba[:, 1].mean())
    assert get_metric(lambda y_true, out, **kw: float(np.average(out[:, 1], weights=kw.get("sample_weight"))))(
        y, proba, sample_weight=w
    ) == pytest.approx(np.average(proba[:, 1], weights=w))
    assert not get_metric(max).takes_weights  # a builtin: no signature to read


def test_one_weighted_class_is_refused():
    X, _, group = _two_groups(n=200)
    with pytest.raises(ValueError, match=r"2 classes with sample_weight > 0, got 1 class \(1\)"):
        TabularClassifier(**FAST).fit(X, group, sample_weight=group.astype(float))


def test_bad_eval_set_weights_are_refused():
    X, y, _ = _two_groups(n=200)
    with pytest.raises(ValueError, match="eval_set: sample_weight must be >= 0"):
        TabularRegressor(**FAST).fit(X, y, eval_set=(X, y, -np.ones(200)))
    with pytest.raises(ValueError, match="a pair .* or a triple"):
        TabularRegressor(**FAST).fit(X, y, eval_set=(X, y, None, None))


def test_continued_training_and_lr_find_take_weights():
    X, y, group = _two_groups()
    w = np.where(group == 1, 9.0, 1.0)
    reg = TabularRegressor(**FAST).fit(X, y)
    before = reg.predict(X).mean()
    reg.fit_one_cycle(X, y, epochs=3, sample_weight=w)
    assert reg.predict(X).mean() > before + 2.0
    reg.fine_tune(X, y, epochs=1, sample_weight=w)  # passes them to both of its cycles
    assert reg.lr_find(X, y, sample_weight=w, num_it=10).lrs.size >= 3
    assert TabularRegressor(**FAST).lr_find(X, y, sample_weight=w, num_it=10).lrs.size >= 3
    with pytest.raises(ValueError, match="sample_weight must be >= 0"):
        reg.fit_one_cycle(X, y, sample_weight=-w)


def test_pipeline_routes_sample_weight():
    X, y, group = _two_groups()
    pipe = make_pipeline(FunctionTransformer(), TabularRegressor(**FAST))
    pipe.fit(X, y, tabularregressor__sample_weight=np.where(group == 1, 9.0, 1.0))
    assert abs(pipe.predict(X).mean() - 9.0) < 1.5


def test_encoder_passes_weights_to_its_nets():
    X, y, group = _two_groups()
    net = {k: v for k, v in FAST.items() if k != "random_state"}
    params = dict(cat_features=["c"], min_category_count=1, estimator_params=net, random_state=0)
    w = np.where(group == 1, 9.0, 1.0)
    plain = EntityEmbeddingEncoder(**params).fit(X, y)
    weighted = EntityEmbeddingEncoder(**params).fit(X, y, sample_weight=w)
    assert not np.allclose(plain.tables_[0], weighted.tables_[0])
    oof = EntityEmbeddingEncoder(cv=2, **params).fit_transform(X, y, sample_weight=w)
    assert oof.shape[0] == len(X) and np.isfinite(oof).all()
    few = np.zeros(len(X))
    few[:2] = 1.0  # both in one fold: the other fold's net has no weighted row to learn from
    params["estimator_params"] = {**net, "validation_fraction": None}
    with pytest.raises(ValueError, match="cv fold 1: sample_weight is zero for every row"):
        EntityEmbeddingEncoder(
            cv=[(np.arange(2, 400), np.arange(2)), (np.arange(200), np.arange(200, 400))], **params
        ).fit_transform(X, y, sample_weight=few)


def test_matrix_factorization_refuses_sample_weight():
    from sklearn.utils.validation import has_fit_parameter

    X = pd.DataFrame({"user": [1, 2, 3, 1, 2, 3] * 5, "item": [1, 1, 2, 2, 3, 3] * 5})
    y = np.linspace(1, 5, len(X))
    assert not has_fit_parameter(MatrixFactorization(), "sample_weight")  # meta-estimators see it
    assert has_fit_parameter(TabularRegressor(), "sample_weight")
    mf = MatrixFactorization(epochs=1, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="MatrixFactorization does not take sample_weight"):
        mf.fit_one_cycle(X, y, sample_weight=np.ones(len(X)))


def test_a_class_of_no_training_weight_is_never_boosted():
    X, _, _ = _two_groups(n=300)
    y = np.arange(300) % 3
    clf = TabularClassifier(threshold="auto", **FAST).fit(X, y, sample_weight=np.where(y == 2, 0.0, 1.0))
    assert clf.class_scale_[2] == 0.0 and np.all(clf.class_scale_[:2] > 0)


def test_a_class_missing_from_a_continued_cycle_keeps_its_scale():
    """Only weight makes a class unlearned: new rows that lack a class (fit_one_cycle) leave its
    prior 0 too, and it must stay predictable (it was, before weights existed)."""
    X, _, _ = _two_groups(n=300)
    y = np.arange(300) % 3
    clf = TabularClassifier(threshold="auto", **FAST).fit(X, y)
    two = y < 2
    clf.fit_one_cycle(X[two], y[two], lr=1e-4, eval_set=(X, y))
    assert clf.class_scale_[2] > 0


def test_a_junk_target_of_weight_zero_leaves_the_scaling_alone():
    X, y, _ = _two_groups(n=200)
    y_junk = np.r_[1e200, y[1:]]
    fit = TabularRegressor(**FAST).fit(X, y_junk, sample_weight=np.r_[0.0, np.ones(199)])
    assert fit.y_std_[0] == pytest.approx(y[1:].std()) and fit.y_max_[0] == 10.0


def test_lr_find_reads_the_weights():
    X, y, _ = _two_groups(n=400)
    clean = TabularRegressor(**FAST).lr_find(X, y, num_it=10)
    junk = np.arange(400) % 4 == 0
    y_junk = np.where(junk, 1e4, y)  # a quarter of the targets are junk, weighted 0
    res = TabularRegressor(**FAST).lr_find(X, y_junk, sample_weight=(~junk).astype(float), num_it=10)
    assert res.raw_losses[:3].max() < 10 * clean.raw_losses[:3].max()  # junk rows scored: ~1e7 x


def test_fine_tune_passes_the_weights_to_both_cycles(monkeypatch):
    X, y, group = _two_groups()
    reg = TabularRegressor(**FAST).fit(X, y)
    seen = []
    real = TabularRegressor.fit_one_cycle
    monkeypatch.setattr(
        TabularRegressor,
        "fit_one_cycle",
        lambda self, *a, **k: seen.append(k.get("sample_weight")) or real(self, *a, **k),
    )
    w = np.where(group == 1, 9.0, 1.0)
    reg.fine_tune(X, y, epochs=1, freeze_epochs=1, sample_weight=w)
    assert len(seen) == 2 and all(s is w for s in seen)


def test_lr_find_refuses_weights_with_sampling_fitted_or_not():
    X, _, group = _two_groups(n=200)
    w = np.where(group == 1, 3.0, 1.0)
    clf = TabularClassifier(sampling="oversample", **FAST)
    with pytest.raises(ValueError, match="does not combine with sample_weight"):
        clf.lr_find(X, group, sample_weight=w, num_it=5)
    with pytest.raises(ValueError, match="does not combine with sample_weight"):
        clf.fit(X, group).lr_find(X, group, sample_weight=w, num_it=5)
