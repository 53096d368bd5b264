"""Divergence guard, interrupt safety and determinism of training."""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from tabdl import TabularClassifier, TabularRegressor
from tabdl.callbacks import Callback
from tabdl.estimators import _TabularEstimator
from tabdl.learner import DivergenceWarning, Learner, TensorData
from tabdl.modules import TabularMLP
from tabdl.preprocess import TabularPreprocessor

FAST = dict(epochs=3, layers=(16,), random_state=0)


def _frame(n=300, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    a[::9] = np.nan
    X = pd.DataFrame({"a": a, "c": pd.Series(rng.choice(list("abcd"), n), dtype="str")})
    y = np.nan_to_num(a) * 3 + (X["c"] == "b").to_numpy() + 1
    return X, y


def _tensors(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    x_cat = torch.randint(0, 4, (n, 1), generator=g)
    x_cont = torch.randn(n, 2, generator=g)
    y = (x_cont[:, :1] * 2 + x_cat.float()).float()
    return TensorData(x_cat, x_cont, y)


def _learner(callbacks=(), seed=0):
    torch.manual_seed(seed)
    model = TabularMLP(cardinalities=[4], emb_dims=[2], n_cont=2, n_out=1, layers=[8])
    return Learner(model, torch.nn.MSELoss(), batch_size=32, seed=seed, callbacks=list(callbacks))


def _same_state(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


# >>> divergence guard
@pytest.mark.parametrize("est", [TabularRegressor, TabularClassifier])
def test_absurd_lr_warns_restores_and_stays_usable(est):
    X, y = _frame()
    if est is TabularClassifier:
        y = y > np.median(y)
    with pytest.warns(DivergenceWarning, match=r"diverged.*Try lr <= .*lr_find"):
        model = est(lr=1e6, **FAST).fit(X, y)
    assert model.diverged_
    out = model.predict_proba(X) if est is TabularClassifier else model.predict(X)
    assert np.isfinite(out).all()
    # The restored weights are the initial ones (it diverged in epoch 1): same as an untrained net.
    torch.manual_seed(model.seed_)
    fresh = TabularMLP(**model.model_config_)
    assert _same_state(fresh.state_dict(), model.model_.state_dict())


def test_divergence_after_good_epochs_keeps_best_epoch():
    data = _tensors()

    class Explode(Callback):
        # Blow the weights up once the second epoch starts: the next loss is huge.
        def before_epoch(self, learner):
            if learner.epoch == 2:
                with torch.no_grad():
                    for p in learner.model.parameters():
                        p.mul_(1e6)

    class Keep(Callback):
        def after_epoch(self, learner, logs):
            self.state = {k: v.clone() for k, v in learner.model.state_dict().items()}

    keep = Keep()
    learner = _learner([keep, Explode()])
    with pytest.warns(DivergenceWarning, match="epoch 1"):
        learner.fit_one_cycle(data, 4, 1e-2)
    assert learner.diverged and learner.best_epoch == 1
    assert _same_state(keep.state, learner.model.state_dict())
    assert len(learner.recorder.history) == 1


class _Spiky(torch.nn.Module):
    """MSE whose reported value is 1e5x on the calls in ``at`` (the gradient is the plain one):
    the guard sees a spike, the weights do not."""

    def __init__(self, at):
        super().__init__()
        self.at, self.calls = at, 0

    def forward(self, out, y):
        loss = torch.nn.functional.mse_loss(out, y)
        self.calls += 1
        return loss + loss.detach() * (1e5 - 1) if self.at(self.calls) else loss


def test_one_spiking_batch_is_not_a_divergence_but_a_lasting_rise_is():
    # A heavy-tailed target's extreme row gave one batch 500x the others late in a healthy fit
    # (reddit_finance's incomes), and the guard stopped the fit there. (Call 1 of the loss is the
    # guard's reference loss on the training rows; batch i is call i + 1.)
    data = _tensors()
    learner = _learner()
    learner.loss_func = _Spiky(lambda i: i == 20)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)
        learner.fit_one_cycle(data, 4, 1e-2)
    assert not learner.diverged and len(learner.recorder.history) == 4
    assert max(learner.recorder.losses) > 1e3  # the spike was there
    learner = _learner()
    learner.loss_func = _Spiky(lambda i: i >= 20)
    with pytest.warns(DivergenceWarning, match="exploded"):
        learner.fit_one_cycle(data, 4, 1e-2)
    assert learner.diverged and learner.best_epoch == 2  # 8 batches an epoch: it rose in epoch 3


@pytest.mark.parametrize(
    "kw",
    [
        dict(epochs=1, lr=10.0, batch_size=64, validation_fraction=None, average_weights=False),  # a short fit
        dict(epochs=2, lr=30.0, batch_size=100, validation_fraction=None),  # across an epoch end
        dict(epochs=3, lr=10.0),  # defaults, with a validation part (lr=1 blew up in epoch 1 or 2 by CPU)
        dict(epochs=1, lr=3.0, batch_size=300, validation_fraction=None),  # one step: never judged
        dict(epochs=3, lr=30.0, batch_size=300, validation_fraction=0.1),  # one step an epoch
    ],
)
def test_a_finite_blow_up_is_caught_and_the_weights_before_it_restored(kw):
    # A guard that let one batch count for little missed a short fit's blow-up (diverged_ False,
    # a broken model), and kept an epoch that ended mid blow-up as the best one.
    rng = np.random.default_rng(0)
    n = 300
    X = pd.DataFrame({"c": rng.choice(list("abc"), n), "v": rng.normal(size=n), "w": rng.normal(size=n)})
    y = X["v"] * 2 + (X["c"] == "a") + rng.normal(scale=0.1, size=n)
    with pytest.warns(DivergenceWarning, match="Restored the weights this cycle started from"):
        model = TabularRegressor(n_bags=1, random_state=0, **kw).fit(X, y)
    assert model.diverged_ and model.best_epoch_ == 0
    torch.manual_seed(model.seed_)
    assert _same_state(TabularMLP(**model.model_config_).state_dict(), model.model_.state_dict())


def test_nan_loss_is_caught():
    data = _tensors()
    data.y[5] = float("nan")  # one NaN target poisons the loss of its batch
    learner = _learner()
    with pytest.warns(DivergenceWarning, match="NaN/inf"):
        learner.fit(data, 2, 1e-3)
    assert learner.diverged
    assert all(torch.isfinite(p).all() for p in learner.model.parameters())


def test_heavy_tailed_target_is_not_taken_for_a_divergence():
    # A few huge targets (incomes, prices): a batch holding one scores ~100x a batch without,
    # which the guard once read as an explosion of the first batch's loss, resetting a healthy
    # fit to its initial weights in epoch 1.
    rng = np.random.default_rng(0)
    n = 600
    a = rng.normal(size=n)
    y = a + 0.1 * rng.normal(size=n)
    y[rng.choice(n, 5, replace=False)] += 300.0
    X = pd.DataFrame({"a": a, "b": rng.normal(size=n)})
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)
        model = TabularRegressor(random_state=0, epochs=5, layers=(32,)).fit(X, y)
    assert not model.diverged_
    assert list(model.history_["epoch"]) == [1, 2, 3, 4, 5]


def test_a_continued_cycle_on_a_well_fit_model_is_not_called_divergent():
    # A net fitted to a near-0 loss (0.0005 in eval mode): the batch losses of a new cycle, with
    # dropout on and the LR warming up, are 100x that (0.1, still far below chance's 0.69)
    # without anything exploding. The guard once compared them with the cycle's own starting
    # loss, "restored" the weights and trained nothing.
    rng = np.random.default_rng(0)
    n = 2000
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    y = (X["a"] > 0).astype(int)
    clf = TabularClassifier(epochs=30, layers=(32,), dropout=0.5, validation_fraction=None, random_state=0)
    clf.fit(X, y)
    assert clf.history_["train_loss"].iloc[-1] < 0.01
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)
        clf.fit_one_cycle(X, y, epochs=2, lr=1e-2)
    assert not clf.diverged_ and len(clf.history_) == 32
    # A truly absurd LR is still caught in a continued cycle.
    with pytest.warns(DivergenceWarning, match="diverged"):
        clf.fit_one_cycle(X, y, epochs=1, lr=1e6)
    assert clf.diverged_


def test_best_epoch_names_the_epoch_whose_weights_are_held():
    X, y = _frame()
    # Without a validation part the last epoch is kept; best_epoch_ was the lowest training loss.
    reg = TabularRegressor(epochs=4, layers=(16,), lr=0.1, validation_fraction=None, random_state=0).fit(X, y)
    assert reg.history_["train_loss"].idxmin() != 3 and reg.best_epoch_ == 4
    # With one, early stopping keeps its best epoch; a continued cycle that diverges at once keeps
    # those weights, so best_epoch_ stays (it was set to the earlier cycles' epoch count).
    reg = TabularRegressor(epochs=6, layers=(16,), patience=1, random_state=0).fit(X, y)
    held, preds = reg.best_epoch_, reg.predict(X)
    with pytest.warns(DivergenceWarning):
        reg.fit_one_cycle(X, y, epochs=2, lr=1e6, eval_set=(X, y))
    assert reg.diverged_ and reg.best_epoch_ == held
    np.testing.assert_array_equal(reg.predict(X), preds)


def test_lr_find_stops_at_divergence_and_restores_the_model():
    X, y = _frame()
    reg = TabularRegressor(**FAST).fit(X, y)
    before = reg.predict(X)
    res = reg.lr_find(X, y, start_lr=1e-5, end_lr=1e6, num_it=100)
    # The guard stopped the sweep well before the absurd end of the range.
    assert len(res.lrs) < 100 and res.lrs.max() < 1e6
    assert np.isfinite(res.losses).all()
    assert res.lrs.min() <= res.suggestion <= res.lrs.max()
    assert np.array_equal(before, reg.predict(X))


def test_lr_find_that_diverges_at_once_says_what_to_do():
    X, y = _frame()
    with pytest.raises(ValueError, match="start_lr"):
        TabularRegressor(**FAST).lr_find(X, y, start_lr=1e6, end_lr=1e9)


# >>> interrupt safety
class _InterruptAt(Callback):
    """Raise KeyboardInterrupt at the given batch of the given epoch, as a Ctrl-C would."""

    def __init__(self, epoch, batch=2):
        self.at, self.batch = epoch, batch

    def before_epoch(self, learner):
        self.n = 0

    def after_batch(self, learner, loss):
        self.n += 1
        if learner.epoch == self.at and self.n == self.batch:
            raise KeyboardInterrupt


def test_learner_interrupt_keeps_best_weights_and_history():
    data = _tensors()

    class Keep(Callback):
        def after_epoch(self, learner, logs):
            if learner.epoch == learner.best_epoch:
                self.state = {k: v.clone() for k, v in learner.model.state_dict().items()}

    keep = Keep()
    learner = _learner([keep, _InterruptAt(epoch=3)])
    with pytest.warns(UserWarning, match="interrupted during epoch 3"):
        learner.fit_one_cycle(data, 5, 1e-2, valid=data[torch.arange(64)])
    assert len(learner.recorder.history) == 2
    assert learner.best_epoch in (1, 2)
    assert _same_state(keep.state, learner.model.state_dict())


@pytest.mark.parametrize("est", [TabularRegressor, TabularClassifier])
def test_estimator_interrupt_leaves_a_usable_model(est, monkeypatch):
    X, y = _frame()
    if est is TabularClassifier:
        y = np.where(y > np.median(y), "hi", "lo")
    original = _TabularEstimator._learner

    def with_interrupt(self, n_train, callbacks=(), *rest):  # rest: sampler, validation loss
        return original(self, n_train, [*callbacks, _InterruptAt(epoch=2)], *rest)

    monkeypatch.setattr(_TabularEstimator, "_learner", with_interrupt)
    with pytest.warns(UserWarning, match="interrupted"):
        model = est(**{**FAST, "epochs": 4}).fit(X, y)
    assert list(model.history_["epoch"]) == [1]
    assert model.best_epoch_ == 1
    out = model.predict(X)
    assert out.shape == (len(X),)
    if est is TabularRegressor:
        assert np.isfinite(out).all()
    else:
        assert set(out) <= {"hi", "lo"}


def test_a_bag_drops_a_later_net_that_was_interrupted(monkeypatch):
    # Ctrl-C during net 1's first epoch once left that net, at its initial weights, in the bag:
    # the average of a trained and an untrained net (test RMSE 0.60 against 0.33 for net 0).
    X, y = _frame()
    original = _TabularEstimator._learner
    calls = []

    def interrupt_second(self, n_train, callbacks=(), *rest):
        calls.append(1)
        extra = [_InterruptAt(epoch=1)] if len(calls) == 2 else []
        return original(self, n_train, [*callbacks, *extra], *rest)

    monkeypatch.setattr(_TabularEstimator, "_learner", interrupt_second)
    with pytest.warns(UserWarning, match="interrupted"):
        bag = TabularRegressor(**{**FAST, "n_bags": 3}).fit(X, y)
    monkeypatch.undo()
    assert len(calls) == 2 and bag.interrupted_  # no third net after Ctrl-C
    one = TabularRegressor(**{**FAST, "n_bags": 1}).fit(X, y)
    assert "n_bags" not in bag.model_config_
    np.testing.assert_array_equal(bag.predict(X), one.predict(X))  # net 0 alone, as trained


def test_a_bag_names_a_later_net_that_diverged_and_keeps_the_others(monkeypatch):
    # A later net that blew up was dropped silently, and the only warning spoke of restoring the
    # weights of a net that was no longer in the model.
    X, y = _frame()
    original = _TabularEstimator._train_net

    def third_net_at_a_huge_lr(self, i, *rest):
        if i != 2:
            return original(self, i, *rest)
        lr, self.lr = self.lr, 1e6
        try:
            return original(self, i, *rest)
        finally:
            self.lr = lr

    monkeypatch.setattr(_TabularEstimator, "_train_net", third_net_at_a_huge_lr)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bag = TabularRegressor(**{**FAST, "n_bags": 4}).fit(X, y)
    monkeypatch.undo()
    messages = [str(w.message) for w in caught if issubclass(w.category, DivergenceWarning)]
    assert len(messages) == 1, messages  # one warning, from the fit, not the dropped net's learner
    assert re.search(
        r"net 3 of 4 diverged: the loss .* at epoch \d+ with lr=.*; it was dropped, and the model "
        r"averages the 2 nets trained before it\. Try lr <=",
        messages[0],
    )
    assert "Restored" not in messages[0]
    assert bag.diverged_ and bag.model_config_["n_bags"] == 2 and len(bag.model_.nets) == 2
    two = TabularRegressor(**{**FAST, "n_bags": 2}).fit(X, y)
    np.testing.assert_array_equal(bag.predict(X), two.predict(X))  # nets 0 and 1, as trained


def test_a_bag_keeps_its_finished_nets_when_ctrl_c_falls_between_two_nets(monkeypatch):
    # Ctrl-C while a later net set up (before its training loop) escaped fit and lost every net.
    X, y = _frame()
    original = _TabularEstimator._train_net

    def interrupt_third(self, i, *rest):
        if i == 2:
            raise KeyboardInterrupt
        return original(self, i, *rest)

    monkeypatch.setattr(_TabularEstimator, "_train_net", interrupt_third)
    with pytest.warns(UserWarning, match="net 3 of 4 was interrupted; it was dropped, and the model averages the 2"):
        try:
            bag = TabularRegressor(**{**FAST, "n_bags": 4}).fit(X, y)
        except KeyboardInterrupt:
            pytest.fail("Ctrl-C between two nets escaped fit")
    assert bag.interrupted_ and not bag.diverged_ and len(bag.model_.nets) == 2
    monkeypatch.setattr(_TabularEstimator, "_train_net", lambda self, i, *a: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):  # nothing finished: the interrupt is the caller's
        TabularRegressor(**{**FAST, "n_bags": 4}).fit(X, y)


def test_ctrl_c_that_escapes_a_refit_or_a_cycle_leaves_the_fit_it_started_from(monkeypatch):
    # Ctrl-C while a refit encoded X (before any net trained) escaped with the new target scaling
    # beside the old net: every prediction came out ~1000x (a refit on y * 1000).
    X, y = _frame()
    model = TabularRegressor(**FAST).fit(X, y)
    before, history = model.predict(X), model.history_.copy()
    monkeypatch.setattr(TabularPreprocessor, "transform", lambda self, X: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y * 1000)
    monkeypatch.undo()
    np.testing.assert_array_equal(model.predict(X), before)
    # The same for a continued cycle stopped outside its loop: its weights beside the old history_.
    monkeypatch.setattr(_TabularEstimator, "_store_history", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        model.fit_one_cycle(X, y, epochs=1, lr=0.1)
    monkeypatch.undo()
    np.testing.assert_array_equal(model.predict(X), before)
    pd.testing.assert_frame_equal(model.history_, history)


def test_ctrl_c_while_a_bag_scores_a_net_out_of_bag_keeps_the_nets_before_it(monkeypatch):
    # threshold="auto" scores each net's validation rows between two nets; Ctrl-C there escaped
    # fit and left a half-fitted classifier (one net, no threshold_, no history_).
    X, y = _frame()
    labels = np.where(y > np.median(y), "hi", "lo")
    original, calls = _TabularEstimator._valid_raw, []

    def interrupt_second(self, *args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(_TabularEstimator, "_valid_raw", interrupt_second)
    with pytest.warns(UserWarning, match="net 2 of 3 was interrupted; it was dropped, and the model is the net"):
        try:
            clf = TabularClassifier(**{**FAST, "n_bags": 3, "threshold": "auto"}).fit(X, labels)
        except KeyboardInterrupt:
            pytest.fail("Ctrl-C between two nets escaped fit")
    assert clf.interrupted_ and isinstance(clf.model_, TabularMLP)
    assert clf.threshold_ is not None and len(clf.history_) == FAST["epochs"]
    assert set(clf.predict(X)) <= {"hi", "lo"}


def test_fine_tune_stops_when_its_frozen_phase_is_interrupted(monkeypatch):
    # Ctrl-C in the frozen phase once went on to the unfrozen phase: the user had to interrupt
    # twice, and the embeddings moved after the first.
    X, y = _frame()
    model = TabularRegressor(**FAST).fit(X, y)
    embeds = {k: v.clone() for k, v in model.model_.embeds.state_dict().items()}
    original = _TabularEstimator._learner

    def with_interrupt(self, n_train, callbacks=(), *rest):
        return original(self, n_train, [*callbacks, _InterruptAt(epoch=1)], *rest)

    monkeypatch.setattr(_TabularEstimator, "_learner", with_interrupt)
    with pytest.warns(UserWarning, match="interrupted") as caught:
        model.fine_tune(X, y, epochs=2, freeze_epochs=1)
    assert sum("interrupted" in str(w.message) for w in caught) == 1
    assert model.interrupted_ and len(model.history_) == FAST["epochs"]
    assert _same_state(embeds, model.model_.embeds.state_dict())
    assert all(p.requires_grad for p in model.model_.parameters())  # unfrozen again


def test_fitted_lr_find_is_repeatable_and_leaves_global_rng_and_mode_alone():
    # Dropout draws from torch's global RNG: a sweep on a fitted model once consumed the caller's
    # stream and gave another curve each call.
    X, y = _frame()
    model = TabularRegressor(**{**FAST, "dropout": 0.3, "validation_fraction": None}).fit(X, y)
    assert not model.model_.training  # fitted: ready to predict
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = model.lr_find(X, y, num_it=30)
    assert torch.equal(before, torch.get_rng_state())
    b = model.lr_find(X, y, num_it=30)
    np.testing.assert_array_equal(a.losses, b.losses)
    assert not model.model_.training


# >>> determinism
def _fit_twice(est, X, y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a determinism test must not pass through a divergence
        before = torch.random.get_rng_state()
        a = est(**params).fit(X, y)
        assert torch.equal(before, torch.random.get_rng_state())  # the global RNG is left alone
        torch.manual_seed(12345)  # global RNG state must not matter
        np.random.seed(54321)  # noqa: NPY002 - the legacy global state is what could leak in
        b = est(**params).fit(X, y)
    return a, b


def test_regressor_is_deterministic():
    X, y = _frame()
    a, b = _fit_twice(TabularRegressor, X, y, patience=2, **FAST)
    assert np.array_equal(a.predict(X), b.predict(X))
    pd.testing.assert_frame_equal(a.history_.drop(columns="time"), b.history_.drop(columns="time"))


def test_classifier_is_deterministic():
    X, y = _frame()
    y = np.digitize(y, np.quantile(y, [0.33, 0.66]))
    a, b = _fit_twice(TabularClassifier, X, y, dropout=0.2, emb_dropout=0.1, **FAST)
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))


def test_different_seeds_differ():
    X, y = _frame()
    a = TabularRegressor(**FAST).fit(X, y)
    b = TabularRegressor(**{**FAST, "random_state": 1}).fit(X, y)
    assert not np.array_equal(a.predict(X), b.predict(X))


def test_entity_embedding_encoder_is_deterministic():
    from tabdl.embeddings import EntityEmbeddingEncoder

    X, y = _frame()
    params = {"estimator_params": {"epochs": 2, "layers": (8,)}, "random_state": 0}
    a = EntityEmbeddingEncoder(**params).fit(X, y)
    b = EntityEmbeddingEncoder(**params).fit(X, y)
    assert np.array_equal(a.transform(X), b.transform(X), equal_nan=True)  # NaN: passthrough column


def test_a_divergence_in_the_first_epoch_leaves_a_history_with_its_columns():
    # history_ was a frame without columns (history_["valid_loss"] a KeyError), and the next
    # cycle dropped the batches loss_curve_ held.
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"v": rng.normal(size=300), "w": rng.normal(size=300)})
    y = X["v"] * 2 + rng.normal(scale=0.1, size=300)
    with pytest.warns(DivergenceWarning):
        model = TabularRegressor(
            n_bags=1, random_state=0, epochs=2, lr=1e4, batch_size=300, validation_fraction=None, metrics=["mae"]
        ).fit(X, y)
    assert len(model.history_) == 0 and {"train_loss", "valid_loss", "lr", "mae"} <= set(model.history_.columns)
    before = len(model.loss_curve_)
    assert before >= 1
    model.fit_one_cycle(X, y, epochs=1, lr=1e-3)
    assert len(model.loss_curve_) == before + 1 and len(model.history_) == 1


def test_fine_tune_stops_when_its_frozen_phase_diverges():
    # Found in review: after a diverged head phase the unfrozen phase ran at the same top LR
    # (a second DivergenceWarning, the embeddings moved) and its diverged_ = False hid the first.
    X, y = _frame()
    model = TabularRegressor(**FAST).fit(X, y)
    embeds = {k: v.clone() for k, v in model.model_.embeds.state_dict().items()}
    with pytest.warns(DivergenceWarning) as caught:
        model.fine_tune(X, y, epochs=2, freeze_epochs=1, lr=slice(1e-5, 1e6))
    assert sum(issubclass(w.category, DivergenceWarning) for w in caught) == 1
    assert model.diverged_
    assert _same_state(embeds, model.model_.embeds.state_dict())  # no unfrozen phase ran
    assert all(p.requires_grad for p in model.model_.parameters())  # unfrozen again
    assert np.isfinite(model.predict(X)).all()
