import numpy as np
import pytest
import torch

from tabdl.callbacks import Callback, EarlyStopping
from tabdl.learner import Learner, TensorData, group_lrs
from tabdl.metrics import get_metric
from tabdl.modules import TabularMLP


def problem(n=256, sign=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    x_cat = torch.randint(0, 5, (n, 2), generator=g)
    x_cont = torch.randn(n, 3, generator=g)
    y = sign * (x_cont[:, :1] * 2 - x_cont[:, 1:2] + (x_cat[:, :1] == 2).float())
    return TensorData(x_cat, x_cont, y.float())


def learner(seed=0, **kw):
    torch.manual_seed(seed)
    model = TabularMLP(cardinalities=[5, 5], emb_dims=[3, 2], n_cont=3, n_out=1, layers=(16, 8))
    return Learner(model, torch.nn.MSELoss(), **{"batch_size": 32, "seed": seed, **kw})


def params(model):
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


class Snapshots(Callback):
    """Keeps the weights at the end of every epoch."""

    def __init__(self):
        self.states = {}

    def after_epoch(self, learner, logs):
        self.states[logs["epoch"]] = state(learner.model)


# >>> discriminative learning rates
def test_float_lr_is_the_same_for_every_group():
    np.testing.assert_allclose(group_lrs(1e-2, 3), [1e-2, 1e-2, 1e-2])


def test_slice_hi_gives_head_hi_and_the_rest_a_tenth():
    np.testing.assert_allclose(group_lrs(slice(1e-2), 3), [1e-3, 1e-3, 1e-2])


def test_slice_lo_hi_is_geometric():
    np.testing.assert_allclose(group_lrs(slice(1e-4, 1e-2), 3), [1e-4, 1e-3, 1e-2])
    np.testing.assert_allclose(group_lrs(slice(1e-5, 1e-2), 4), [1e-5, 1e-4, 1e-3, 1e-2])


@pytest.mark.parametrize("bad", [0.0, -1e-3, slice(None), slice(-1, 1e-2), slice(1e-3, 1e-2, 2), "1e-3"])
def test_bad_lr_raises(bad):
    with pytest.raises(ValueError, match="lr"):
        group_lrs(bad, 3)


def test_slice_moves_the_head_far_more_than_the_embeddings():
    lrn = learner()
    before = params(lrn.model)
    lrn.fit(problem(), 2, lr=slice(1e-10, 1e-2))
    after = params(lrn.model)
    emb = max((after[k] - before[k]).abs().max().item() for k in before if k.startswith("embeds"))
    head = max((after[k] - before[k]).abs().max().item() for k in before if k.startswith("head"))
    assert emb < 1e-6 < 1e-3 < head


def test_history_lr_is_the_head_lr_of_the_schedule():
    lrn = learner()
    lrn.fit_one_cycle(problem(), 2, lr=slice(1e-3, 1e-2))
    assert lrn.recorder.history["lr"].iloc[-1] == pytest.approx(1e-2 / 1e5)


# >>> freezing
def test_freeze_trains_the_head_only():
    lrn = learner()
    lrn.freeze()
    before = params(lrn.model)
    lrn.fit_one_cycle(problem(), 2, lr=1e-2)
    after = params(lrn.model)
    for k in before:
        if k.startswith("head"):
            assert not torch.equal(before[k], after[k]), k
        else:
            assert torch.equal(before[k], after[k]), k
            assert dict(lrn.model.named_parameters())[k].grad is None
    lrn.unfreeze()
    lrn.fit_one_cycle(problem(), 1, lr=1e-2)
    assert not torch.equal(after["embeds.tables.0.weight"], lrn.model.embeds.tables[0].weight)


def test_frozen_groups_keep_their_batchnorm_statistics():
    # Frozen weights stayed put while the BatchNorm running stats of the frozen body followed the
    # new cycle's batches: the frozen layers' output moved on the same rows.
    lrn = learner()
    lrn.fit_one_cycle(problem(), 1, lr=1e-2)
    lrn.freeze()
    before = state(lrn.model)
    shifted = problem(seed=1)
    shifted.x_cont += 3.0
    lrn.fit_one_cycle(shifted, 2, lr=1e-2)
    after = state(lrn.model)
    stats = [k for k in before if "running_mean" in k and not k.startswith("head")]
    assert stats and all(torch.equal(before[k], after[k]) for k in stats)
    lrn.unfreeze()
    lrn.fit_one_cycle(shifted, 1, lr=1e-2)
    assert not torch.equal(after[stats[0]], state(lrn.model)[stats[0]])  # unfrozen, they learn again


def test_freeze_to_counts_groups_without_wrapping():
    # freeze_to(n) took n modulo the number of groups: freezing all 3 groups trained all 3, and
    # n=-4 froze two of them.
    lrn = learner()
    groups = lrn.layer_groups()
    lrn.freeze_to(len(groups))
    assert not any(p.requires_grad for p in lrn.model.parameters())
    with pytest.raises(ValueError, match="unfreeze"):
        lrn.fit_one_cycle(problem(), 1)
    lrn.freeze_to(-2)
    assert [any(p.requires_grad for p in g.parameters()) for g in groups] == [False, True, True]
    for bad in (len(groups) + 1, -len(groups) - 1, 1.5, True):
        with pytest.raises(ValueError, match="freeze_to"):
            lrn.freeze_to(bad)


def test_all_frozen_raises():
    lrn = learner()
    for p in lrn.model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="unfreeze"):
        lrn.fit_one_cycle(problem(), 1)


# >>> best weights and early stopping
def test_early_stopping_restores_the_best_weights():
    # Validation targets have the opposite sign: learning the train set makes them worse.
    snaps = Snapshots()
    lrn = learner(callbacks=[EarlyStopping(patience=2), snaps])
    valid = problem(128, sign=-1.0, seed=1)
    lrn.fit_one_cycle(problem(), 20, lr=1e-2, valid=valid)
    hist = lrn.recorder.history
    assert len(hist) < 20  # it stopped
    best = int(hist["valid_loss"].idxmin()) + 1
    assert lrn.best_epoch == best and hist["epoch"].iloc[-1] == best + 2
    final = state(lrn.model)
    assert all(torch.equal(final[k], snaps.states[best][k]) for k in final)
    assert lrn.validate(valid)["valid_loss"] == pytest.approx(hist["valid_loss"].min(), rel=1e-6)


def test_without_a_validation_part_the_last_weights_stay():
    snaps = Snapshots()
    lrn = learner(callbacks=[snaps])
    lrn.fit_one_cycle(problem(), 3, lr=1e-2)
    final = state(lrn.model)
    assert all(torch.equal(final[k], snaps.states[3][k]) for k in final)


def test_averaged_weights_are_the_ones_scored_and_kept_while_training_goes_on_from_the_live_ones():
    class Live(Callback):
        """The live weights after each step, and at the start of each epoch."""

        def __init__(self):
            self.last_step, self.epoch_start = {}, {}

        def before_epoch(self, learner):
            self.epoch_start[learner.epoch] = params(learner.model)

        def after_batch(self, learner, loss):
            self.last_step[learner.epoch] = params(learner.model)

    live, snaps = Live(), Snapshots()
    lrn = learner(average_weights=True, callbacks=[live, snaps])
    valid = problem(128, seed=1)
    lrn.fit_one_cycle(problem(), 4, lr=1e-2, valid=valid)
    hist = lrn.recorder.history
    final = params(lrn.model)
    # What each epoch scored is the average, not the last step's weights ...
    assert any(not torch.equal(final[k], live.last_step[lrn.best_epoch][k]) for k in final)
    assert all(torch.equal(snaps.states[lrn.best_epoch][k], v) for k, v in final.items())
    # ... the kept model is the one scored best ...
    assert lrn.validate(valid)["valid_loss"] == pytest.approx(hist["valid_loss"].min(), rel=1e-6)
    # ... and every epoch after the first trains on from the live weights, not the average.
    for epoch in (2, 3, 4):
        assert all(torch.equal(live.epoch_start[epoch][k], live.last_step[epoch - 1][k]) for k in final)


def test_divergence_restores_and_warns():
    from tabdl.learner import DivergenceWarning

    lrn = learner()
    before = state(lrn.model)
    with pytest.warns(DivergenceWarning, match="diverged"):
        lrn.fit(problem(), 3, lr=1e6)
    assert lrn.diverged
    after = state(lrn.model)
    assert all(torch.equal(before[k], after[k]) for k in before)


# >>> records
def test_metrics_are_recorded_apart_from_the_loss():
    lrn = learner(metrics=[get_metric("mae")], restore_best=False)
    valid = problem(128, seed=2)
    lrn.fit_one_cycle(problem(), 3, lr=1e-2, valid=valid)
    hist = lrn.recorder.history
    assert {"epoch", "train_loss", "train_loss_smooth", "valid_loss", "lr", "mae"} <= set(hist.columns)
    pred = lrn.predict_raw(valid).numpy()
    mae = np.abs(pred - valid.y.numpy()).mean()
    mse = ((pred - valid.y.numpy()) ** 2).mean()
    assert hist["mae"].iloc[-1] == pytest.approx(mae, rel=1e-5)
    assert hist["valid_loss"].iloc[-1] == pytest.approx(mse, rel=1e-5)
    assert hist["mae"].iloc[-1] != pytest.approx(hist["valid_loss"].iloc[-1])


def test_smoothed_loss_tracks_the_batch_losses():
    lrn = learner()
    lrn.fit_one_cycle(problem(), 4, lr=1e-2)
    rec = lrn.recorder
    assert len(rec.losses) == len(rec.smooth_losses) == 4 * (256 // 32)
    # Debiased: the first smoothed value is the first loss itself, not pulled towards 0.
    assert rec.smooth_losses[0] == pytest.approx(rec.losses[0])
    assert rec.history["train_loss_smooth"].iloc[-1] == pytest.approx(rec.smooth_losses[-1])


def test_same_seed_same_weights():
    a, b = learner(seed=3), learner(seed=3)
    a.fit_one_cycle(problem(), 2)
    b.fit_one_cycle(problem(), 2)
    sa, sb = state(a.model), state(b.model)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_the_default_optimizer_steps_all_tensors_at_once_to_the_same_weights():
    # AdamW with foreach (one call over every tensor, not torch's per-tensor loop on CPU), whose
    # updates are those of the per-tensor loop bit for bit.
    a = learner(seed=3)
    b = learner(seed=3, opt_func=lambda pgs, **kw: torch.optim.AdamW(pgs, foreach=False, **kw))
    a.fit_one_cycle(problem(), 2)
    b.fit_one_cycle(problem(), 2)
    assert a._optimizer().defaults["foreach"] is True
    sa, sb = state(a.model), state(b.model)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_batches_cover_every_row_once_and_skip_a_one_row_tail():
    lrn = learner(batch_size=10)
    idx = torch.cat(lrn._batches(41))
    assert len(idx) == 40 and len(set(idx.tolist())) == 40
    assert lrn._steps_per_epoch(41) == 4 == len(lrn._batches(41))
    assert lrn._steps_per_epoch(42) == 5 == len(lrn._batches(42))


class InterruptAt(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def after_epoch(self, learner, logs):
        if logs["epoch"] == self.epoch:
            raise KeyboardInterrupt


def test_keyboard_interrupt_keeps_the_best_weights():
    snaps = Snapshots()
    lrn = learner(callbacks=[snaps, InterruptAt(4)])
    valid = problem(128, sign=-1.0, seed=1)
    with pytest.warns(UserWarning, match="interrupted"):
        lrn.fit_one_cycle(problem(), 10, lr=1e-2, valid=valid)
    best = lrn.best_epoch
    assert 1 <= best <= 4
    final = state(lrn.model)
    assert all(torch.equal(final[k], snaps.states[best][k]) for k in final)


def test_custom_sampler_sets_the_epoch_length():
    class FirstHalfTwice:
        def __init__(self, n):
            self.n = n

        def __len__(self):
            return self.n

        def __call__(self, g):
            half = torch.arange(self.n // 2)
            return torch.cat([half, half])[torch.randperm(self.n, generator=g)]

    lrn = learner(sampler=FirstHalfTwice(256))
    lrn.fit_one_cycle(problem(), 2, lr=1e-2)
    assert len(lrn.recorder.losses) == 2 * 256 // 32


def test_predict_raw_in_chunks_matches_one_pass():
    lrn = learner()
    lrn.fit_one_cycle(problem(), 1, lr=1e-2)
    data = problem(100, seed=4)
    whole = lrn.predict_raw(data)
    chunked = lrn.predict_raw(data, batch_size=7)
    assert whole.shape == (100, 1) and not whole.requires_grad
    np.testing.assert_allclose(chunked.numpy(), whole.numpy(), rtol=1e-5, atol=1e-6)
    assert not lrn.model.training  # eval mode: BatchNorm uses its running stats


def test_the_divergence_reference_is_the_loss_on_evenly_spaced_rows():
    train = problem(n=5000)
    lrn = learner()
    every = float(lrn.loss_func(lrn.predict_raw(train), train.y))
    assert lrn._loss_on(train) == pytest.approx(every)  # under max_rows: every row
    spaced = train[torch.arange(0, 5000, 5)]  # 5000 rows, at most 1000: every 5th
    assert lrn._loss_on(train, max_rows=1000) == pytest.approx(float(lrn.loss_func(lrn.predict_raw(spaced), spaced.y)))


def test_seeded_draws_repeat_and_leave_the_callers_stream_alone():
    from tabdl.learner import seeded

    torch.manual_seed(7)
    state = torch.get_rng_state()
    with seeded(3):
        a = torch.rand(4)
    with seeded(3, torch.device("cpu")):
        b = torch.rand(4)
    assert torch.equal(a, b)
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(3)
    assert torch.equal(torch.rand(4), a)  # the seed torch.manual_seed(3) gives, on the CPU
