import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.utils.class_weight import compute_class_weight

import tabdl.estimators as est_mod
from tabdl import TabularClassifier
from tabdl.learner import Learner, TensorData
from tabdl.metrics import METRICS, Metric, get_metric, warn_if_accuracy_misleading, warn_if_f1_scores_the_majority
from tabdl.modules import TabularMLP
from tabdl.sampling import (
    OversampleSampler,
    UndersampleSampler,
    class_weights,
    decide,
    prior_corrected_loss,
    training_priors,
    tune_prior_correction,
    tune_threshold,
)


def _imbalanced(n=400, pos=0.1, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "c": rng.choice(["x", "y", "z"], size=n)})
    score = X["a"].to_numpy() + 0.5 * rng.normal(size=n)
    y = (score > np.quantile(score, 1 - pos)).astype(np.int64)
    return X, y


FAST = dict(epochs=2, layers=(16,), random_state=0, n_bags=1)  # one net: these read its internals


# >>> samplers
@pytest.mark.parametrize("counts", [[90, 10], [50, 7, 3], [5, 5], [1, 30, 12], [3, 4]])
def test_oversampler_balances_an_epoch_of_n_rows(counts):
    y = np.repeat(np.arange(len(counts)), counts)
    n, k = len(y), len(counts)
    s = OversampleSampler(y)
    # An epoch as long as plain training's (less the n % k rows that would unbalance it), in
    # equal class shares.
    assert len(s) == n - n % k and s.class_counts.tolist() == [n // k] * k
    g = torch.Generator().manual_seed(0)
    seen_over_epochs = np.zeros(n, dtype=np.int64)
    for _ in range(20):
        idx = s(g).numpy()
        assert idx.dtype == np.int64 and len(idx) == len(s)
        assert np.bincount(y[idx], minlength=k).tolist() == s.class_counts.tolist()
        seen = np.bincount(idx, minlength=n)
        seen_over_epochs += seen
        for c, n_c in enumerate(counts):
            per_row = seen[y == c]
            m = s.class_counts[c]
            # Repeats spread evenly: minority rows m // n_c or one more times; a class with
            # more rows than its share gives distinct rows (a subset without replacement).
            assert per_row.min() == m // n_c and per_row.max() - per_row.min() <= 1
    # A fresh majority subset each epoch: over the epochs every row gets used.
    assert (seen_over_epochs > 0).all()


def test_oversampler_shuffles_classes_together_and_skips_absent_ones():
    y = np.array([0] * 40 + [2] * 10)  # class 1 absent from these rows
    s = OversampleSampler(y, n_classes=3)
    idx = s(torch.Generator().manual_seed(1)).numpy()
    assert s.class_counts.tolist() == [25, 0, 25]
    assert len(np.unique(y[idx[:10]])) == 2  # not class-blocked


@pytest.mark.parametrize("ratio", [1.0, 2.0, 3.5])
def test_undersample_ratio_holds(ratio):
    y = np.repeat([0, 1], [500, 40])
    s = UndersampleSampler(y, ratio)
    g = torch.Generator().manual_seed(0)
    first = s(g).numpy()
    counts = np.bincount(y[first])
    assert counts[1] == 40 and counts[0] == int(ratio * 40)
    assert counts[0] / counts[1] == pytest.approx(ratio, abs=1 / 40)
    assert len(np.unique(first)) == len(first)  # without replacement
    # A fresh majority subset each epoch, so all majority rows get used over time.
    assert not np.array_equal(np.sort(first), np.sort(s(g).numpy()))


def test_undersample_caps_every_class_of_a_multiclass_target():
    y = np.repeat([0, 1, 2], [300, 25, 100])
    s = UndersampleSampler(y, 2.0)
    counts = np.bincount(y[s(torch.Generator().manual_seed(0)).numpy()])
    assert counts.tolist() == [50, 25, 50]


def test_undersampling_down_to_a_tiny_class_is_warned_about():
    # A class of one row capped every class at one row: 4 rows per epoch, silently.
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=400)})
    y = np.where(X["x"] > 0.5, "hi", np.where(X["x"] < -0.5, "lo", "mid")).astype(object)
    y[0] = "rare"
    with pytest.warns(UserWarning, match=r"keeps 4 of \d+ rows per epoch.*'rare' with 1 row"):
        TabularClassifier(sampling="undersample", validation_fraction=None, **FAST).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # without it, the smallest class has 100+ rows: no warning
        TabularClassifier(sampling="undersample", validation_fraction=None, **FAST).fit(X.iloc[1:], y[1:])
        # A small table that loses a few rows to balance (46/44 -> 44/44) is not warned about either.
        y_small = np.repeat(["a", "b"], [46, 44])
        TabularClassifier(sampling="undersample", validation_fraction=None, **FAST).fit(X.iloc[:90], y_small)
    with pytest.warns(UserWarning, match="keeps 20 of 90 rows"):  # 80/10: a small table, a tiny epoch
        TabularClassifier(sampling="undersample", validation_fraction=None, **FAST).fit(
            X.iloc[:90], np.repeat(["a", "b"], [80, 10])
        )


def test_undersample_ratio_is_never_exceeded():
    # Found in review: the cap was rounded, so ratio 1.5 over one minority row kept 2 rows, 2:1.
    for y, ratio in ((np.repeat([0, 1], [100, 1]), 1.5), (np.repeat([0, 1], [100, 3]), 1.9)):
        counts = np.bincount(y[UndersampleSampler(y, ratio)(torch.Generator().manual_seed(0)).numpy()])
        assert counts[0] / counts[1] <= ratio
    # ... nor lost to float error: 2.3 * 100 is 229.99999999999997
    assert UndersampleSampler(np.repeat([0, 1], [100, 1000]), 2.3, 2).class_counts.tolist() == [100, 230]


def test_a_class_of_one_row_is_never_held_out_of_training():
    # Found in review: a one-row class cannot be stratified; the plain cut held it out, the net
    # trained on the other class alone and threshold="auto" was tuned on that row (126 of 200
    # rows then predicted as it), without a word.
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=list("abc"))
    y = np.array(["maj"] * 199 + ["min"])
    clf = TabularClassifier(**{**FAST, "n_bags": 2, "threshold": "auto", "random_state": 2})
    with pytest.warns(UserWarning, match="validation rows hold only class 'maj'"):
        clf.fit(X, y)
    for tr, va in clf._cuts(y, 2, True):
        assert 199 in tr and 199 not in va and len(va) == 20  # a row of the largest class in its place
    assert (clf.predict(X) == "min").sum() < 20
    # Where the validation part was that row alone, it keeps a row; where its only weighted row was
    # the moved one, the row taken in its place weighs more than zero.
    small_X, small_y = X.iloc[:10], np.array([0] * 5 + [1] * 4 + [2])
    for seed in range(6):
        fit = TabularClassifier(**{**FAST, "epochs": 1, "random_state": seed, "threshold": "auto"})
        fit.fit(small_X, small_y)
    y20 = np.array([0] * 10 + [1] * 9 + [2])
    w = np.zeros(20)
    w[[0, 1, 10, 11, 19]] = 1.0
    for seed in range(6):
        fit = TabularClassifier(**{**FAST, "epochs": 2, "random_state": seed}).fit(X.iloc[:20], y20, sample_weight=w)
        ((tr, va),) = fit._cuts(y20, 1, True, fit._sample_weight(w, 20))
        assert 19 in tr and w[va].any() and len(va) == 2
        assert (fit.history_["valid_loss"] > 0).all()


@pytest.mark.parametrize("ratio", [0.5, 0, "2", True, float("inf"), float("nan")])  # inf: an OverflowError deep in fit
def test_undersample_ratio_rejects_bad_values(ratio):
    X, y = _imbalanced(60)
    with pytest.raises(ValueError, match="undersample_ratio"):
        TabularClassifier(sampling="undersample", undersample_ratio=ratio, **FAST).fit(X, y)


def test_sampler_reaches_the_learner_plain_first_then_balanced(monkeypatch):
    X, y = _imbalanced(300, pos=0.1)
    seen = []
    orig = Learner._batches

    def spy(self, n):
        batches = orig(self, n)
        seen.append(torch.cat(batches))
        return batches

    monkeypatch.setattr(Learner, "_batches", spy)
    kw = {**FAST, "epochs": 4}
    clf = TabularClassifier(sampling="oversample", validation_fraction=None, **kw).fit(X, y)
    assert len(seen) == 4  # one per epoch
    # Deferred oversampling (OVERSAMPLE_DEFER = 0.5): the first half of the epochs are plain
    # shuffles (each row at most once, the data's own class shares), the second half balanced.
    for epoch, idx in enumerate(seen):
        counts = np.bincount(y[idx.numpy()], minlength=2)
        assert len(idx) >= len(y) - 2  # as many steps as plain training
        if epoch < 2:
            assert len(np.unique(idx.numpy())) == len(idx) and counts[1] <= 0.15 * len(idx)
        else:
            assert abs(counts[0] - counts[1]) <= 1  # the BatchNorm guard may drop a one-row tail
    assert clf.history_.shape[0] == 4
    # A continued cycle oversamples from its first epoch: the features were learned in the fit.
    seen.clear()
    clf.fit_one_cycle(X, y, epochs=1)
    counts = np.bincount(y[seen[0].numpy()], minlength=2)
    assert abs(counts[0] - counts[1]) <= 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_deferred_oversampling_keeps_an_oversampled_epoch_and_patience_waits_for_one(seed):
    # Found in review: the plain warm-up epochs were scored by the validation loss corrected for
    # the oversampled prior, and patience counted them, so a fit could stop (or keep its
    # weights) before it had oversampled at all, and a multiclass prior correction then divided
    # by the wrong prior. They are a warm-up now: never the kept weights, not counted by patience.
    X, y = _imbalanced(600, pos=0.1, seed=seed)
    clf = TabularClassifier(
        sampling="oversample", validation_fraction=0.2, patience=1, **{**FAST, "epochs": 8, "random_state": seed}
    ).fit(X, y)
    assert clf.best_epoch_ > 4  # epochs 1-4 are the plain warm-up
    assert len(clf.history_) >= 6  # epoch 5 is the first candidate; patience 1 waits one more


def test_a_stop_before_the_first_oversampled_epoch_keeps_the_last_plain_one(monkeypatch):
    # Found in review: the warm-up epochs were never held, so Ctrl-C (or a divergence) before
    # the first oversampled epoch ended restored the untrained net and tuned a cut on it.
    X, y = _imbalanced(600, pos=0.1)
    orig = OversampleSampler.__call__

    def interrupt_in_epoch_5(self, g):
        if self.epochs_drawn == 4:  # the call that would draw epoch 5, the first oversampled one
            raise KeyboardInterrupt
        return orig(self, g)

    monkeypatch.setattr(OversampleSampler, "__call__", interrupt_in_epoch_5)
    with pytest.warns(UserWarning, match=r"interrupted during epoch 5; keeping the best weights so far \(epoch 4\)"):
        clf = TabularClassifier(sampling="oversample", validation_fraction=0.2, **{**FAST, "epochs": 8}).fit(X, y)
    assert clf.interrupted_ and clf.best_epoch_ == 4
    assert METRICS["roc_auc"](y, clf.predict_proba(X)) > 0.8  # trained weights, not the initial ones


def test_learner_warm_up_is_what_the_sampler_has_left():
    # A sampler that already drew a plain epoch (an lr_find, an earlier cycle) has one fewer to go.
    X, y = _imbalanced(200, pos=0.2)
    data = TensorData(
        torch.zeros(len(y), 0, dtype=torch.long),
        torch.tensor(X[["a"]].to_numpy(), dtype=torch.float32),
        torch.as_tensor(y),
    )
    sampler = OversampleSampler(y, plain_epochs=3)
    sampler(torch.Generator())
    net = TabularMLP(cardinalities=[], emb_dims=[], n_cont=1, n_out=2, layers=(8,))
    learner = Learner(net, torch.nn.CrossEntropyLoss(), batch_size=64, sampler=sampler)
    learner.fit_one_cycle(data, 4, 1e-2, valid=data)
    assert learner.warmup_epochs == 2 and learner.best_epoch > 2


@pytest.mark.parametrize(("epochs", "plain"), [(1, 0), (2, 1), (3, 1), (5, 2), (20, 10)])
def test_deferred_oversampling_plain_epochs_are_the_lower_half(epochs, plain):
    X, y = _imbalanced(200, pos=0.2)
    clf = TabularClassifier(sampling="oversample", **{**FAST, "epochs": epochs})
    clf._setup(X, y, None, split=False)  # the fitted state _sampler reads (classes_, epochs)
    train = clf._tensors(X, y)
    assert clf._sampler(train).plain_epochs == plain
    assert clf._sampler(train, continued=True).plain_epochs == 0


def test_oversampler_defers_by_plain_epochs():
    y = np.repeat([0, 1], [90, 10])
    s = OversampleSampler(y, plain_epochs=2)
    g = torch.Generator().manual_seed(0)
    for _ in range(2):
        idx = s(g).numpy()
        assert len(idx) == len(s) and len(np.unique(idx)) == len(idx)  # distinct rows: no repeats
    assert np.bincount(y[s(g).numpy()]).tolist() == [50, 50]
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="plain_epochs"):
            OversampleSampler(y, plain_epochs=bad)


# >>> class weights
def test_class_weights_balanced_and_dict():
    y = np.array(["a"] * 8 + ["b"] * 2)
    classes = np.array(["a", "b"])
    np.testing.assert_allclose(
        class_weights("balanced", y, classes), compute_class_weight("balanced", classes=classes, y=y)
    )
    np.testing.assert_allclose(class_weights({"b": 3.0}, y, classes), [1.0, 3.0])
    assert class_weights(None, y, classes) is None
    with pytest.raises(ValueError, match="class_weight"):
        class_weights("heavy", y, classes)
    with pytest.raises(ValueError, match="class_weight"):
        class_weights({"b": -1}, y, classes)
    for huge in (float("inf"), 1e300, float("nan")):  # inf made every loss NaN: read as a divergence
        with pytest.raises(ValueError, match="finite positive numbers"):
            class_weights({"b": huge}, y, classes)
    # Text labels that read as ints (codes from a CSV) missed their own keys inside
    # compute_class_weight, which casts labels with int(); a key that is no class is named.
    digits = np.array(["1", "2"])
    np.testing.assert_allclose(class_weights({"1": 5.0}, np.array(["1", "2", "2"]), digits), [5.0, 1.0])
    with pytest.raises(ValueError, match=r"class_weight names \[7\], which are not classes of y, and leaves \[1\]"):
        class_weights({0: 1.0, 7: 5.0}, np.array([0, 1, 1]), np.array([0, 1]))
    # A key for a class this y lacks is fine when every class it has is weighted (scikit-learn's
    # rule): a cross-validation fold without the rare class.
    np.testing.assert_allclose(
        class_weights({0: 1.0, 1: 2.0, 2: 9.0}, np.array([0, 1, 1]), np.array([0, 1])), [1.0, 2.0]
    )


def test_balanced_class_weights_balance_the_sampled_epochs_not_the_data_twice():
    # Weights from y's own counts multiplied on top of a sampler that had already balanced the
    # classes: undersampled 1:1 on 7% positives, the minority weighed 13x and the net called 79%
    # of the rows positive. "balanced" now balances what the loss sees, as a scikit-learn model
    # after an imbalanced-learn sampler counts the resampled rows.
    y = np.repeat([0, 1, 2], [600, 100, 30])
    classes = np.arange(3)
    np.testing.assert_allclose(class_weights("balanced", y, classes, sampling="oversample"), [1.0, 1.0, 1.0])
    undersampled = class_weights("balanced", y, classes, sampling="undersample", ratio=3.0)
    drawn = UndersampleSampler(y, 3.0).class_counts  # 90, 90, 30 per epoch
    np.testing.assert_allclose(
        undersampled, compute_class_weight("balanced", classes=classes, y=np.repeat(classes, drawn))
    )
    np.testing.assert_allclose(training_priors(y, 3, UndersampleSampler(y, 3.0), undersampled), [1 / 3] * 3)
    X, yb = _imbalanced(600, pos=0.2)
    clf = TabularClassifier(sampling="undersample", class_weight="balanced", **FAST).fit(X, yb)
    np.testing.assert_allclose(clf.class_weight_, [1.0, 1.0])
    clf.set_params(sampling=None).fit_one_cycle(X, yb, epochs=1)  # a cycle weighs by its own sampling
    np.testing.assert_allclose(clf.class_weight_, compute_class_weight("balanced", classes=np.arange(2), y=yb))


def test_class_weights_reach_the_loss(monkeypatch):
    X, y = _imbalanced(200, pos=0.2)
    losses = []
    orig_init = Learner.__init__

    def spy(self, model, loss_func, **kw):
        losses.append(loss_func)
        orig_init(self, model, loss_func, **kw)

    monkeypatch.setattr(Learner, "__init__", spy)
    clf = TabularClassifier(class_weight="balanced", **FAST).fit(X, y)
    expected = compute_class_weight("balanced", classes=np.array([0, 1]), y=y)
    np.testing.assert_allclose(clf.class_weight_, expected)
    loss = getattr(losses[0], "base", losses[0])  # the ensemble wraps it in a MemberLoss
    np.testing.assert_allclose(loss.weight.numpy(), expected, rtol=1e-6)
    # And the weighting changes what is learned: a heavy minority weight raises P(minority).
    plain = TabularClassifier(**FAST).fit(X, y).predict_proba(X)[:, 1].mean()
    heavy = TabularClassifier(class_weight={1: 20.0}, **FAST).fit(X, y).predict_proba(X)[:, 1].mean()
    assert heavy > plain


def test_oversampling_smooths_the_labels_so_repeated_rows_do_not_push_probabilities_to_0_and_1():
    # Separable classes, trained long without validation (the last weights are kept): plain
    # training becomes near certain, while the oversampled net's smoothed targets (0.975 for the
    # true class at smoothing 0.05) hold its probabilities back.
    rng = np.random.default_rng(0)
    a = np.concatenate([rng.uniform(-3, -1, 270), rng.uniform(1, 3, 30)])
    X, y = pd.DataFrame({"a": a}), (a > 0).astype(np.int64)
    kw = dict(epochs=30, layers=(32,), validation_fraction=None, n_members=1, random_state=0)

    def confidence(**extra):
        proba = TabularClassifier(**kw, **extra).fit(X, y).predict_proba(X)
        return proba[np.arange(len(y)), y]  # P(true class) per row

    assert np.median(confidence()) > 0.995
    over = confidence(sampling="oversample")
    assert 0.9 < np.median(over) < 0.99  # still right, only less certain
    assert np.median(confidence(class_weight="balanced")) > 0.995  # the same prior shift, no repeats


# >>> threshold
def test_tune_threshold_finds_the_separating_cut():
    p = np.array([0.05, 0.1, 0.2, 0.3, 0.35, 0.4, 0.8, 0.9])
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    t = tune_threshold(y, p, "f1", method="empirical")
    assert 0.3 < t <= 0.35
    assert (decide(np.c_[1 - p, p], t) == y).all()
    with pytest.raises(ValueError, match="threshold_metric"):
        tune_threshold(y, p, "roc_auc")
    for bad in (None, "nope"):  # get_metric's own words spoke of "metrics entries"
        with pytest.raises(
            ValueError, match=r"threshold_metric must be .*'f1', 'mcc'\), a callable .* or a label Metric, got"
        ):
            tune_threshold(y, p, bad)


def test_smoothed_threshold_keeps_a_clean_gap_between_the_classes():
    # Found in review: averaging over cut positions treated the gap between separable classes
    # (one position wide) as a spike and moved the cut in among the negatives.
    rng = np.random.default_rng(0)
    p = np.r_[rng.uniform(0.6, 0.9, 10), rng.uniform(0.0, 0.5, 190)]
    y = np.r_[np.ones(10), np.zeros(190)].astype(np.int64)
    t = tune_threshold(y, p, "f1", method="empirical")
    assert ((p >= t) == (y == 1)).all()


def test_tune_threshold_prefers_a_broad_plateau_to_a_lone_spike():
    p = np.linspace(0.0, 1.0, 201)
    y = np.zeros(201, dtype=np.int64)
    # A metric of the number of predicted positives: a one-cut spike (1.0 at 20 positives)
    # and a broad plateau (0.9 for 100-150 positives), as a jagged validation curve has.
    curve = np.zeros(202)
    curve[20], curve[100:151] = 1.0, 0.9
    metric = Metric("designed", lambda y_true, pred: curve[int(pred.sum())], "label")
    raw = tune_threshold(y, p, metric, smooth=0)
    assert (p >= raw).sum() == 20  # the raw maximum sits on the spike
    t = tune_threshold(y, p, metric)
    assert 110 <= (p >= t).sum() <= 140  # the smoothed one well inside the plateau
    with pytest.raises(ValueError, match="smooth"):
        tune_threshold(y, p, metric, smooth=1.0)


def _scores_and_labels(n, rng, pos=0.15):
    """P(positive) from two overlapping score distributions (a net's ranking of an imbalanced set)."""
    y = (rng.random(n) < pos).astype(np.int64)
    return y, 1 / (1 + np.exp(-(rng.normal(0, 1, n) + 2.0 * y - 1.0)))


def test_bagged_threshold_is_closer_to_the_best_cut_than_the_raw_one():
    # The point of bagging: on small validation parts the raw best cut scatters around the cut
    # that is best on the whole population; the median over bootstrap resamples scatters less,
    # so new rows score a better F1 on average.
    rng = np.random.default_rng(0)
    y_pop, p_pop = _scores_and_labels(200_000, rng)
    f1 = METRICS["f1"].func
    grid = np.linspace(0.2, 0.9, 141)
    best = grid[np.argmax([f1(y_pop, p_pop >= t) for t in grid])]
    raw, bagged = [], []
    for _ in range(40):
        y, p = _scores_and_labels(400, rng)
        raw.append(tune_threshold(y, p, "f1", method="empirical", n_bootstrap=0))
        bagged.append(tune_threshold(y, p, "f1", method="empirical"))
    raw, bagged = np.array(raw), np.array(bagged)
    assert np.mean(np.abs(bagged - best)) < 0.9 * np.mean(np.abs(raw - best))
    pop_f1 = lambda cuts: np.mean([f1(y_pop, p_pop >= t) for t in cuts])  # noqa: E731
    assert pop_f1(bagged) > pop_f1(raw)


def test_calibrated_threshold_beats_the_empirical_cut_on_new_rows():
    # The default rule reads the labels through two Platt parameters only, so on small
    # validation parts its cut scatters less than the best cut of the rows' own jagged metric
    # curve, bagged or not; it also holds for scores that are shifted and over- or
    # under-confident (an oversampled net's), which the Platt fit undoes.
    rng = np.random.default_rng(0)
    for shift, scale in [(0.0, 1.0), (2.0, 1.5), (-1.0, 0.5)]:

        def draw(n, shift=shift, scale=scale):
            y, p = _scores_and_labels(n, rng)
            z = np.log(p / (1 - p))
            return y, 1 / (1 + np.exp(-(scale * z + shift)))

        y_pop, p_pop = draw(200_000)
        for name in ("f1", "balanced_accuracy", "mcc"):
            score = METRICS[name].func
            calibrated, empirical = [], []
            for _ in range(20):
                y, p = draw(400)
                calibrated.append(score(y_pop, p_pop >= tune_threshold(y, p, name)))
                empirical.append(score(y_pop, p_pop >= tune_threshold(y, p, name, method="empirical")))
            assert np.mean(calibrated) > np.mean(empirical), (shift, scale, name)


def test_calibrated_threshold_reaches_the_bayes_cuts_of_calibrated_scores():
    # For calibrated probabilities the balanced-accuracy cut is the class prior, and the F1 cut
    # is half the best F1 (Lipton et al. 2014): both without looking for the jagged maximum.
    rng = np.random.default_rng(3)
    y = (rng.random(50_000) < 0.15).astype(np.int64)
    x = rng.normal(0, 1, len(y)) + 2.0 * y - 1.0  # N(+-1, 1): the log likelihood ratio is 2x
    p = 1 / (1 + np.exp(-(np.log(0.15 / 0.85) + 2 * x)))  # the true posterior
    f1 = METRICS["f1"].func
    assert tune_threshold(y, p, "balanced_accuracy") == pytest.approx(y.mean(), abs=0.02)
    t = tune_threshold(y, p, "f1")
    assert t == pytest.approx(f1(y, p >= t) / 2, abs=0.02)


def test_calibrated_threshold_falls_back_to_the_empirical_cut():
    y, p = _scores_and_labels(300, np.random.default_rng(4))
    # Scores that rank the classes the wrong way round (a Platt slope below 0) and rows of one
    # class (no slope at all) leave nothing to calibrate.
    assert tune_threshold(y, 1 - p, "f1") == tune_threshold(y, 1 - p, "f1", method="empirical")
    zeros = np.zeros(50, np.int64)
    assert tune_threshold(zeros, p[:50], "f1") == tune_threshold(zeros, p[:50], "f1", method="empirical")
    with pytest.raises(ValueError, match="method must be"):
        tune_threshold(y, p, "f1", method="platt")


@pytest.mark.parametrize(("centre", "width"), [(0.5, 1e-1), (0.5, 1e-5), (0.3, 1e-4), (0.9, 1e-4)])
def test_calibrated_threshold_on_scores_in_a_narrow_band(centre, width):
    # Found in review: an under-confident net's well-ranked scores within 1e-4 of each other
    # stopped the Platt fit at its starting slope (every row predicted positive), or gave a
    # negative slope. The fit now runs on standardised scores.
    rng = np.random.default_rng(0)
    y = (rng.random(1000) < 0.1).astype(np.int64)
    s = rng.normal(size=1000) + 3 * y
    p = centre + width * s / np.ptp(s)
    f1 = METRICS["f1"].func
    assert f1(y, p >= tune_threshold(y, p, "f1")) > f1(y, p >= tune_threshold(y, p, "f1", method="empirical")) - 0.03


def test_calibrated_threshold_needs_probabilities():
    y, p = _scores_and_labels(200, np.random.default_rng(5))
    margins = np.log(p / (1 - p))
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\].*method='empirical'"):
        tune_threshold(y, margins, "f1")
    # The empirical cut reads ranks only: on margins it splits the rows where it splits them on p.
    cut_m, cut_p = (tune_threshold(y, v, "f1", method="empirical") for v in (margins, p))
    np.testing.assert_array_equal(margins >= cut_m, p >= cut_p)


def test_bagged_threshold_is_deterministic_and_checks_n_bootstrap():
    y, p = _scores_and_labels(300, np.random.default_rng(1))
    assert tune_threshold(y, p, "f1", method="empirical") == tune_threshold(y, p, "f1", method="empirical")
    assert tune_threshold(y, p, "f1", method="empirical", random_state=1) != tune_threshold(
        y, p, "f1", method="empirical", random_state=2
    )
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match="n_bootstrap"):
            tune_threshold(y, p, "f1", n_bootstrap=bad)
    for bad in (0, 1, 2.0):
        with pytest.raises(ValueError, match="max_candidates"):
            tune_threshold(y, p, "f1", max_candidates=bad)
    # One class only: nothing to resample into two classes; the cut of the rows themselves.
    assert tune_threshold(np.zeros(50, np.int64), p[:50], "f1") == tune_threshold(
        np.zeros(50, np.int64), p[:50], "f1", n_bootstrap=0
    )


def test_tune_threshold_refuses_labels_other_than_codes_and_non_finite_scores():
    # The cut is scored from counts of y == 1: string labels read as all negative and gave a cut
    # silently; NaN scores sorted above every cut (counted positive) while decide() predicts
    # them negative, and could return a NaN threshold.
    y, p = _scores_and_labels(60, np.random.default_rng(2))
    for labels in (np.where(y == 1, "yes", "no"), y * 2 - 1):
        with pytest.raises(ValueError, match="class codes 0/1"):
            tune_threshold(labels, p, "f1")
    assert tune_threshold(y.astype(bool), p, "f1") == tune_threshold(y, p, "f1")
    for bad in (np.nan, np.inf):
        with pytest.raises(ValueError, match="p_pos holds 1 NaN or infinite"):
            tune_threshold(y, np.where(np.arange(60) == 7, bad, p), "f1")


@pytest.fixture
def tuning_calls(monkeypatch):
    """(labels, probabilities) of every tune_threshold call the estimators make."""
    calls = []
    orig = est_mod.tune_threshold

    def spy(y_true, p, metric, **kw):
        calls.append((np.asarray(y_true).copy(), np.asarray(p).copy()))
        return orig(y_true, p, metric, **kw)

    monkeypatch.setattr(est_mod, "tune_threshold", spy)
    return calls


def test_threshold_is_tuned_on_validation_rows_only(tuning_calls):
    calls = tuning_calls
    X, y = _imbalanced(300, pos=0.15)
    Xv, yv = _imbalanced(120, pos=0.15, seed=1)
    clf = TabularClassifier(threshold="auto", **FAST).fit(X, y, eval_set=(Xv, yv))
    ((y_seen, p_seen),) = calls
    np.testing.assert_array_equal(y_seen, yv)  # exactly the eval_set labels, in order
    np.testing.assert_allclose(p_seen, clf.predict_proba(Xv)[:, 1], rtol=1e-5, atol=1e-6)
    assert clf.threshold_ == tune_threshold(yv, clf.predict_proba(Xv)[:, 1], "f1")

    # With validation_fraction the tuning rows are the held-out part: as many as it holds and
    # none of the rows the net trained on.
    calls.clear()
    clf = TabularClassifier(threshold="auto", validation_fraction=0.25, **FAST).fit(X, y)
    assert len(calls[0][0]) == int(300 * 0.25)


def test_a_bag_tunes_its_threshold_out_of_bag(tuning_calls):
    # Each validation row is scored only by the nets that held it out: no net's training rows
    # reach the tuning, and rows that no net held out are not used at all.
    X, y = _imbalanced(300, pos=0.15)
    clf = TabularClassifier(threshold="auto", **{**FAST, "n_bags": 3}).fit(X, y)
    ((y_seen, p_seen),) = tuning_calls
    cuts = clf._cuts(y, 3, split=True)
    held = np.unique(np.concatenate([va for _, va in cuts]))
    np.testing.assert_array_equal(y_seen, y[held])
    data = clf._encode_X(X)
    sums, counts = np.zeros(len(X)), np.zeros(len(X))
    with torch.inference_mode():
        for net, (_, va) in zip(clf.model_.nets, cuts):
            sums[va] += torch.softmax(net(data.x_cat, data.x_cont), dim=1)[va.tolist(), 1].numpy()
            counts[va] += 1
    np.testing.assert_allclose(p_seen, (sums / np.maximum(counts, 1))[held], rtol=1e-4, atol=1e-6)
    assert clf.threshold_ == tune_threshold(y[held], p_seen, "f1")


def test_auto_threshold_without_validation_part_raises():
    X, y = _imbalanced(100)
    with pytest.raises(ValueError, match="validation"):
        TabularClassifier(threshold="auto", validation_fraction=None, **FAST).fit(X, y)


def test_auto_threshold_on_validation_rows_of_one_class_warns_and_keeps_argmax():
    # Every cut scores alike on them: the "tuned" cut sat in the middle of the flat curve and
    # labelled about half of new rows positive, silently.
    X, y = _imbalanced(300, pos=0.15)
    Xv, yv = _imbalanced(120, pos=0.15, seed=1)
    neg = yv == 0
    with pytest.warns(UserWarning, match="validation rows hold only class 0.*threshold_ = None"):
        clf = TabularClassifier(threshold="auto", **FAST).fit(X, y, eval_set=(Xv[neg], yv[neg]))
    assert clf.threshold_ is None
    np.testing.assert_array_equal(clf.predict(X), clf.predict_proba(X).argmax(axis=1))
    # String labels in an object array: the message quoted the label with .tolist(), which a
    # Python str lacks, and the fit crashed with an AttributeError instead of warning.
    labels = np.array(["no", "yes"], dtype=object)
    with pytest.warns(UserWarning, match="validation rows hold only class 'no'"):
        TabularClassifier(threshold="auto", **FAST).fit(X, labels[y], eval_set=(Xv[neg], labels[yv[neg]]))


def test_continued_training_on_one_class_keeps_the_tuned_cut_and_a_failed_one_changes_nothing():
    X, y = _imbalanced(300, pos=0.15)
    Xv, yv = _imbalanced(120, pos=0.15, seed=1)
    clf = TabularClassifier(threshold="auto", **FAST).fit(X, y, eval_set=(Xv, yv))
    cut = clf.threshold_
    assert cut is not None
    neg = yv == 0
    with pytest.warns(UserWarning, match="keeps its cut"):
        clf.fit_one_cycle(X, y, epochs=1, eval_set=(Xv[neg], yv[neg]))
    assert clf.threshold_ == cut
    # A refit that is refused keeps the fitted model's cut; one that runs starts from no rule.
    with pytest.raises(ValueError, match="eval_set"):
        clf.fit(X, y, eval_set=(Xv.drop(columns="c"), yv))
    assert clf.threshold_ == cut
    with pytest.warns(UserWarning, match="threshold_ = None"):
        clf.fit(X, y, eval_set=(Xv[neg], yv[neg]))
    assert clf.threshold_ is None
    # New classes whose class_weight is refused leave the fitted classifier as it was.
    weighted = TabularClassifier(class_weight={0: 1.0, 1: 2.0, 7: 3.0}, **FAST).fit(X, y)
    y3 = np.where(np.arange(len(y)) % 10 == 0, 2, y)
    with pytest.raises(ValueError, match="class_weight names"):
        weighted.fit_one_cycle(X, y3, epochs=1)
    assert weighted.classes_.tolist() == [0, 1] and weighted.model_config_["n_out"] == 2


def test_a_continued_cycle_without_eval_set_says_the_tuned_rule_was_not_tuned_again():
    # The cut tuned for the old weights was kept silently (F1 0.576 where a re-tuned cut gave
    # 0.622 in review), and new classes fell back to argmax with threshold="auto" still set.
    X, y = _imbalanced(300, pos=0.15)
    Xv, yv = _imbalanced(120, pos=0.15, seed=1)
    clf = TabularClassifier(threshold="auto", **FAST).fit(X, y, eval_set=(Xv, yv))
    cut = clf.threshold_
    with pytest.warns(UserWarning, match=r"this cycle had none: predict keeps the cut.*pass eval_set") as rec:
        clf.fit_one_cycle(X, y, epochs=1)
    assert clf.threshold_ == cut and {r.filename for r in rec if "cycle had none" in str(r.message)} == {__file__}
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*cycle had none")
        clf.fit_one_cycle(X, y, epochs=1, eval_set=(Xv, yv))  # tuned again: nothing to say
    y3 = np.where(np.arange(len(y)) % 10 == 0, 2, y)
    with pytest.warns(UserWarning, match=r"cycle had none: predict takes the most probable class"):
        clf.fit_one_cycle(X, y3, epochs=1)


def test_a_callable_threshold_metric_tunes_the_cut():
    # It was refused as "an AUC-type score"; a callable of hard labels is what sklearn users have.
    from functools import partial

    from sklearn.metrics import fbeta_score

    X, y = _imbalanced(400, pos=0.2)
    recall_heavy = TabularClassifier(threshold="auto", threshold_metric=partial(fbeta_score, beta=4), **FAST).fit(X, y)
    precise = TabularClassifier(threshold="auto", threshold_metric=partial(fbeta_score, beta=0.25), **FAST).fit(X, y)
    np.testing.assert_array_equal(recall_heavy.predict_proba(X), precise.predict_proba(X))  # the same net
    assert recall_heavy.threshold_ < precise.threshold_
    assert recall_heavy.predict(X).sum() > precise.predict(X).sum()
    with pytest.raises(ValueError, match="a callable f\\(y_true, y_pred\\) of class codes"):
        TabularClassifier(threshold="auto", threshold_metric="roc_auc", **FAST).fit(X, y)


def test_a_threshold_metric_that_returns_nan_is_named():
    # NaN compares false with every score: no rule was "the best", and the binary cut and the
    # multiclass scaling both failed with a bare IndexError once the whole fit was done.
    def undefined(y_true, y_pred):
        return float("nan")

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    with pytest.raises(ValueError, match=r"threshold_metric 'undefined' returned NaN for \d+ of \d+"):
        tune_threshold(y, rng.uniform(size=200), undefined)
    y3 = rng.integers(0, 3, 200)
    with pytest.raises(ValueError, match="threshold_metric 'undefined' returned NaN for 11 of 11"):
        tune_prior_correction(y3, rng.dirichlet(np.ones(3), 200), np.array([0.6, 0.3, 0.1]), undefined)


def test_fine_tune_says_once_what_threshold_auto_could_not_tune():
    # Both of fine_tune's cycles warned: the frozen phase's word on the cut was a repeat.
    X, y = _imbalanced(300, pos=0.15)
    Xv, yv = _imbalanced(120, pos=0.15, seed=1)
    clf = TabularClassifier(threshold="auto", **FAST).fit(X, y, eval_set=(Xv, yv))
    with pytest.warns(UserWarning) as rec:
        clf.fine_tune(X, y, epochs=1, freeze_epochs=1)
    assert [r.filename for r in rec if "cycle had none" in str(r.message)] == [__file__]
    neg = yv == 0
    with pytest.warns(UserWarning) as rec:
        clf.fine_tune(X, y, epochs=1, freeze_epochs=1, eval_set=(Xv[neg], yv[neg]))
    assert sum("validation rows hold only" in str(r.message) for r in rec) == 1


def test_continued_training_weighs_classes_by_the_current_class_weight():
    # set_params(class_weight=...) after fit was ignored by the next cycle (class_weight_ was
    # computed in fit only), while set_params(sampling=...) was honoured.
    X, y = _imbalanced(300, pos=0.15)
    clf = TabularClassifier(**FAST).fit(X, y)
    assert clf.class_weight_ is None
    clf.set_params(class_weight="balanced").fit_one_cycle(X, y, epochs=1)
    counts = np.bincount(y)
    np.testing.assert_allclose(clf.class_weight_, len(y) / (2 * counts))
    clf.set_params(class_weight=None).fit_one_cycle(X, y, epochs=1)
    assert clf.class_weight_ is None


def test_warnings_name_the_callers_line_at_any_call_depth():
    # A fixed stacklevel pointed into estimators.py from fine_tune, one level deeper than fit.
    X, y = _imbalanced(300, pos=0.15)
    Xv, yv = _imbalanced(120, pos=0.15, seed=1)
    neg = yv == 0
    clf = TabularClassifier(threshold="auto", **FAST).fit(X, y, eval_set=(Xv, yv))
    calls = [
        lambda: clf.fit_one_cycle(X, y, epochs=1, eval_set=(Xv[neg], yv[neg])),
        lambda: clf.fine_tune(X, y, epochs=1, freeze_epochs=1, eval_set=(Xv[neg], yv[neg])),
        lambda: TabularClassifier(threshold="auto", **FAST).fit(X, y, eval_set=(Xv[neg], yv[neg])),
    ]
    for call in calls:
        with pytest.warns(UserWarning, match="validation rows hold only") as rec:
            call()
        assert {r.filename for r in rec if "validation rows" in str(r.message)} == {__file__}


def test_predict_applies_threshold_and_predict_proba_is_unchanged():
    X, y = _imbalanced(300, pos=0.2)
    plain = TabularClassifier(**FAST).fit(X, y)
    cut = TabularClassifier(threshold=0.2, **FAST).fit(X, y)
    proba = cut.predict_proba(X)
    np.testing.assert_array_equal(proba, plain.predict_proba(X))  # training is unchanged
    np.testing.assert_array_equal(plain.predict(X), proba.argmax(axis=1))
    np.testing.assert_array_equal(cut.predict(X), (proba[:, 1] >= 0.2).astype(int))
    assert cut.predict(X).sum() > plain.predict(X).sum()
    assert cut.threshold_ == 0.2 and plain.threshold_ is None


def test_string_labels_and_auto_threshold_predict_labels():
    X, y = _imbalanced(300, pos=0.15)
    labels = np.where(y == 1, "churn", "stay")
    clf = TabularClassifier(sampling="oversample", threshold="auto", threshold_metric="balanced_accuracy", **FAST)
    pred = clf.fit(X, labels).predict(X)
    assert set(pred) <= {"churn", "stay"}
    assert 0 < clf.threshold_ < 1
    # The cut is on P(classes_[1]), scikit-learn's positive class: here "stay" (sorted labels).
    assert list(clf.classes_) == ["churn", "stay"]
    np.testing.assert_array_equal(pred == "stay", clf.predict_proba(X)[:, 1] >= clf.threshold_)


@pytest.mark.parametrize("bad", [1.5, 0.0, "high", True])
def test_bad_threshold_is_rejected(bad):
    X, y = _imbalanced(60)
    with pytest.raises(ValueError, match="threshold"):
        TabularClassifier(threshold=bad, **FAST).fit(X, y)


def test_float_threshold_needs_binary_target():
    X, _ = _imbalanced(90)
    y = np.arange(90) % 3
    with pytest.raises(ValueError, match="binary"):
        TabularClassifier(threshold=0.3, **FAST).fit(X, y)


# >>> multiclass prior correction
def test_prior_correction_favours_rare_classes():
    rng = np.random.default_rng(0)
    priors = np.array([0.8, 0.15, 0.05])
    y = rng.choice(3, size=600, p=[1 / 3] * 3)
    # A model biased by the priors: true class signal times the training prior.
    signal = np.eye(3)[y] * 0.5 + rng.uniform(size=(600, 3))
    proba = signal * priors
    proba /= proba.sum(axis=1, keepdims=True)
    scale = tune_prior_correction(y, proba, priors, "balanced_accuracy")
    assert scale[2] > scale[1] > scale[0]
    ba = METRICS["balanced_accuracy"].func
    assert ba(y, decide(proba, None, scale)) > ba(y, proba.argmax(axis=1))


def test_training_priors_follow_sampling_and_weights():
    y = np.repeat([0, 1, 2], [60, 30, 10])
    np.testing.assert_allclose(training_priors(y, 3), [0.6, 0.3, 0.1])
    np.testing.assert_allclose(training_priors(y, 3, OversampleSampler(y)), [1 / 3] * 3)
    np.testing.assert_allclose(training_priors(y, 3, None, np.array([1.0, 2.0, 6.0])), [1 / 3] * 3)
    np.testing.assert_allclose(training_priors(y, 3, UndersampleSampler(y, 2.0)), [0.4, 0.4, 0.2])


def test_prior_corrected_loss_is_bayes_rule_for_the_data_prior():
    y = np.repeat([0, 1, 2], [60, 30, 10])
    assert prior_corrected_loss(y, 3) is None  # plain training: its own loss
    loss = prior_corrected_loss(y, 3, OversampleSampler(y))
    logits = torch.randn(8, 3, generator=torch.Generator().manual_seed(0))
    target = torch.tensor([0, 1, 2, 0, 0, 1, 2, 0])
    # A net trained on uniform priors: p_data(c | x) is proportional to p_model(c | x) * prior_c.
    p = torch.softmax(logits, dim=1) * torch.tensor([0.6, 0.3, 0.1])
    p = p / p.sum(dim=1, keepdim=True)
    expected = -torch.log(p[torch.arange(8), target]).mean()
    assert float(loss(logits, target)) == pytest.approx(float(expected), rel=1e-5)
    # Balanced class weights shift the prior the same way; a class absent from y is left alone.
    w = compute_class_weight("balanced", classes=np.arange(3), y=y)
    np.testing.assert_allclose(prior_corrected_loss(y, 3, None, w).log_ratio, loss.log_ratio, atol=1e-6)
    assert prior_corrected_loss(np.array([0, 0, 2]), 3, None, np.array([1.0, 1.0, 2.0])).log_ratio[1] == 0


@pytest.mark.parametrize("kw", [{"sampling": "oversample"}, {"class_weight": "balanced"}])
def test_best_epoch_is_chosen_by_the_prior_corrected_validation_loss(kw):
    X, y = _imbalanced(400, pos=0.1)
    Xv, yv = _imbalanced(200, pos=0.1, seed=1)
    clf = TabularClassifier(epochs=4, layers=(16,), random_state=0, n_bags=1, **kw).fit(X, y, eval_set=(Xv, yv))
    hist = clf.history_["valid_loss"].to_numpy()
    assert clf.best_epoch_ == int(np.argmin(hist)) + 1
    # The restored net's prior-corrected log loss on the eval set is the recorded best value
    # (the net learned a 50/50 prior; the correction is Bayes' rule back to the 10% one).
    prior = np.bincount(y) / len(y)
    p = clf.predict_proba(Xv) * prior / 0.5
    p /= p.sum(axis=1, keepdims=True)
    assert hist[clf.best_epoch_ - 1] == pytest.approx(-np.log(p[np.arange(len(yv)), yv]).mean(), rel=1e-4)
    # predict_proba stays the model's own probabilities (the balanced prior, not the corrected).
    assert clf.predict_proba(Xv)[:, 1].mean() > p[:, 1].mean()


def test_multiclass_auto_threshold_fits_and_clones():
    X, _ = _imbalanced(300)
    y = np.digitize(X["a"].to_numpy(), [0.5, 1.5])  # 3 classes, ~69/24/7 %
    clf = TabularClassifier(
        sampling="undersample", undersample_ratio=2.0, threshold="auto", threshold_metric="balanced_accuracy", **FAST
    ).fit(X, y)
    assert clf.threshold_ is None and clf.class_scale_.shape == (3,)
    assert set(clf.predict(X)) <= {0, 1, 2}
    params = clone(clf).get_params()
    assert params["sampling"] == "undersample" and params["undersample_ratio"] == 2.0
    assert params["threshold"] == "auto" and params["epochs"] == 2


# >>> metrics
IMBALANCE_METRICS = ["balanced_accuracy", "f1", "mcc", "roc_auc", "pr_auc"]


def test_imbalance_metrics_are_usable_as_names():
    X, y = _imbalanced(200, pos=0.2)
    clf = TabularClassifier(metrics=IMBALANCE_METRICS, **FAST).fit(X, y)
    for name in IMBALANCE_METRICS:
        assert get_metric(name) is METRICS[name]
        values = clf.history_[name].to_numpy()
        assert len(values) == 2 and np.isfinite(values).all() and (values >= -1).all()


def test_accuracy_warning_fires_on_imbalanced_training_rows():
    X, y = _imbalanced(200, pos=0.1)
    with pytest.warns(UserWarning, match="balanced_accuracy") as rec:
        TabularClassifier(metrics=["accuracy"], **FAST).fit(X, y)
    assert any(r.filename == __file__ for r in rec)  # points at the caller's fit line
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_accuracy_misleading(["balanced_accuracy", "f1"], y)  # no accuracy asked: quiet
        warn_if_accuracy_misleading(["accuracy"], np.repeat([0, 1], [70, 30]))  # 70% majority: quiet
        warn_if_accuracy_misleading([METRICS["accuracy"]], np.repeat([0, 1], [80, 20]))  # exactly 80%
    with pytest.warns(UserWarning, match="81%"):
        warn_if_accuracy_misleading([METRICS["accuracy"]], np.repeat(["a", "b"], [81, 19]))
    # By weight, as history_'s accuracy is weighted: a 90% row majority weighted down to 47% is quiet,
    # and balanced rows with the weight piled on one class warn.
    y = np.repeat([0, 1], [180, 20])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_accuracy_misleading(["accuracy"], y, sample_weight=np.where(y == 0, 0.1, 1.0))
    with pytest.warns(UserWarning, match="holds 90% of the training row weight"):
        warn_if_accuracy_misleading(["accuracy"], np.repeat([0, 1], [50, 50]), sample_weight=np.repeat([9.0, 1.0], 50))


def test_lr_find_does_not_warn_about_the_metrics_it_does_not_score():
    # The accuracy warning came from lr_find on an unfitted model, and again from the fit after it.
    X, y = _imbalanced(300, pos=0.1)
    clf = TabularClassifier(metrics=["accuracy"], **FAST)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="metrics include 'accuracy'")
        clf.lr_find(X, y, num_it=10)
    with pytest.warns(UserWarning, match="metrics include 'accuracy'"):
        clf.fit(X, y)


def test_binary_f1_of_the_larger_class_warns():
    # F1 is classes_[1]'s, the label that sorts last: with "fraud" / "ok" it scored "ok", the
    # majority, and threshold="auto" tuned the cut for it without a word.
    X, y01 = _imbalanced(300, pos=0.1)
    y = np.where(y01 == 1, "fraud", "ok")
    with pytest.warns(
        UserWarning, match=r"F1 \(threshold='auto' with threshold_metric='f1'\) is that of classes_\[1\] = 'ok'"
    ) as rec:
        TabularClassifier(threshold="auto", **FAST).fit(X, y)
    assert any(r.filename == __file__ for r in rec)  # points at the caller's fit line
    with pytest.warns(
        UserWarning, match=r"F1 \(metrics=\['f1'\]\).*give it the label that sorts last \(e.g. y == 'fraud'\)"
    ):
        TabularClassifier(metrics=[METRICS["f1"]], **FAST).fit(X, y)  # the metric's object, as its name
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="F1")
        TabularClassifier(threshold="auto", **FAST).fit(X, y01)  # classes_[1] is the minority
        TabularClassifier(threshold="auto", threshold_metric="mcc", metrics=["mcc"], **FAST).fit(X, y)
        TabularClassifier(threshold="auto", **FAST).lr_find(X, y, num_it=5)  # no cut to tune: quiet
        warn_if_f1_scores_the_majority(["f1"], np.repeat(["a", "b"], [34, 66]))  # under two thirds
        warn_if_f1_scores_the_majority(["f1"], np.repeat(["a", "b", "c"], [10, 10, 80]))  # macro F1
    # By weight, as the metric is weighted: the row majority weighted down is quiet.
    with pytest.warns(UserWarning, match="80% of the training rows"):
        warn_if_f1_scores_the_majority(["f1"], np.repeat([0, 1], [50, 50]), sample_weight=np.repeat([1.0, 4.0], 50))


def test_fit_one_cycle_retunes_on_its_eval_set_and_keeps_the_rule_without_one():
    X, y = _imbalanced(300, pos=0.15)
    Xv, yv = _imbalanced(120, pos=0.15, seed=1)
    clf = TabularClassifier(threshold="auto", threshold_metric="balanced_accuracy", **FAST)
    first = clf.fit(X, y, eval_set=(Xv, yv)).threshold_
    clf.fit_one_cycle(X, y, epochs=1)
    assert clf.threshold_ == first  # no validation part: the rule tuned before stays
    clf.fit_one_cycle(X, y, epochs=1, eval_set=(Xv, yv))
    assert clf.threshold_ == tune_threshold(yv, clf.predict_proba(Xv)[:, 1], "balanced_accuracy")


def test_tuned_rule_and_class_weights_survive_save_and_load(tmp_path):
    import tabdl

    X, y = _imbalanced(300, pos=0.15)
    clf = TabularClassifier(class_weight={1: 4.0}, threshold="auto", **FAST).fit(X, y)
    loaded = tabdl.load(clf.save(tmp_path / "m.tabdl"))
    assert loaded.threshold_ == clf.threshold_ and loaded.get_params()["class_weight"] == {1: 4.0}
    np.testing.assert_allclose(loaded.class_weight_, [1.0, 4.0])
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


def test_a_binary_only_threshold_metric_on_classes_is_refused_before_training():
    # Found in review: partial(fbeta_score, beta=2) on a 3-class target failed with scikit-learn's
    # bare "average='binary'" message once the whole fit was done; and balanced accuracy on
    # validation rows lacking a class repeated scikit-learn's warning for every power tried.
    from functools import partial

    from sklearn.metrics import fbeta_score

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 3)), columns=list("abc"))
    y = np.array(["a"] * 200 + ["b"] * 95 + ["c"] * 5)
    with pytest.raises(ValueError, match="threshold_metric .* cannot score 3 classes"):
        TabularClassifier(**FAST, threshold="auto", threshold_metric=partial(fbeta_score, beta=2)).fit(X, y)
    TabularClassifier(
        **{**FAST, "epochs": 1}, threshold="auto", threshold_metric=partial(fbeta_score, beta=2, average="macro")
    ).fit(X, y)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="y_pred contains classes not in y_true")
        TabularClassifier(**{**FAST, "epochs": 1}, threshold="auto", threshold_metric="balanced_accuracy").fit(
            X, y, eval_set=(X.iloc[:40], np.array(["a"] * 30 + ["b"] * 10))
        )
