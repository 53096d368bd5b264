import numpy as np
import pandas as pd
import pytest
import torch

from tabdl import TabularRegressor
from tabdl.learner import Learner, TensorData
from tabdl.lr_finder import LRFindResult, suggest_lrs
from tabdl.modules import TabularMLP


def constructed_curve():
    """A loss that falls fastest at 1e-4, keeps falling until ~1e-1, then shoots up."""
    lrs = np.geomspace(1e-7, 10, 100)
    u = np.log10(lrs)
    losses = 1.5 - np.tanh(2 * (u + 4)) + 5 * np.maximum(0, u + 1) ** 2
    return lrs, losses


def test_suggestions_on_a_constructed_curve():
    lrs, losses = constructed_curve()
    s = suggest_lrs(lrs, losses)
    step = np.log10(lrs[1] / lrs[0])  # one grid step, in decades
    assert abs(np.log10(s["steepest"]) - (-4)) <= step
    i_min = int(np.argmin(losses))
    assert abs(np.log10(lrs[i_min]) - (-1)) <= step
    assert s["minimum"] == pytest.approx(lrs[i_min] / 10)
    # The valley lies two thirds down the falling stretch (1e-7 .. 1e-1): at ~1e-3.
    assert abs(np.log10(s["valley"]) - (-7 + 2 / 3 * 6)) <= step


def test_valley_ignores_a_noisy_blip():
    # The valley reads the longest falling stretch, skipping points that break it, so one
    # spike does not move it (the steepest point, a raw gradient, relies on the smoothing).
    lrs, losses = constructed_curve()
    noisy = losses.copy()
    noisy[10] += 0.5
    step = np.log10(lrs[1] / lrs[0])
    assert abs(np.log10(suggest_lrs(lrs, noisy)["valley"]) - (-3)) <= step


def test_suggest_lrs_rejects_short_curves():
    with pytest.raises(ValueError):
        suggest_lrs(np.array([1e-3, 1e-2]), np.array([1.0, 0.5]))


def test_result_exposes_the_suggestions():
    lrs, losses = constructed_curve()
    r = LRFindResult(lrs, losses, losses, suggest_lrs(lrs, losses))
    assert r.suggestion == r.suggestions["steepest"]
    assert r.valley == r.suggestions["valley"] and r.minimum == r.suggestions["minimum"]
    assert "steepest" in repr(r)


def test_plot_is_not_flattened_by_the_point_that_stopped_the_sweep():
    # The sweep stops on a loss far above the rest (8e6 against ~1 on a real table): autoscaled,
    # the plot was a flat line at zero with the suggestions on it.
    import matplotlib.pyplot as plt

    lrs, losses = constructed_curve()
    losses = losses[: int(np.argmin(losses)) + 10]
    losses[-1] = 1e7
    lrs = lrs[: len(losses)]
    ax = LRFindResult(lrs, losses, losses, suggest_lrs(lrs, losses)).plot()
    bottom, top = ax.get_ylim()
    assert bottom < losses.min() and losses[0] < top < 10 * losses[0]
    # A curve with no such point keeps matplotlib's own limits, every point in view.
    calm = np.linspace(2.0, 1.0, 50)
    ax = LRFindResult(lrs[:50], calm, calm, suggest_lrs(lrs[:50], calm)).plot()
    assert ax.get_ylim()[0] < 1.0 and ax.get_ylim()[1] > 2.0
    plt.close("all")


def small_problem(n=512, seed=0):
    g = torch.Generator().manual_seed(seed)
    x_cat = torch.randint(0, 4, (n, 1), generator=g)
    x_cont = torch.randn(n, 3, generator=g)
    y = (x_cont[:, :1] * 2 + x_cat.float() * 0.5).float()
    return TensorData(x_cat, x_cont, y)


def make_learner(seed=0):
    torch.manual_seed(seed)
    model = TabularMLP(cardinalities=[4], emb_dims=[3], n_cont=3, n_out=1, layers=(16,))
    return Learner(model, torch.nn.MSELoss(), batch_size=32, seed=seed)


def test_learner_lr_find_restores_state_and_stops_on_divergence():
    data = small_problem()
    learner = make_learner()
    before = {k: v.clone() for k, v in learner.model.state_dict().items()}
    gen_before = learner.generator.get_state()
    result = learner.lr_find(data, num_it=200, end_lr=1e3)

    after = learner.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert torch.equal(gen_before, learner.generator.get_state())

    # It stopped early, right when the smoothed loss passed 4x its minimum.
    assert len(result.lrs) < 200
    assert result.losses[-1] > 4 * result.losses.min()
    assert (result.losses[:-1] <= 4 * np.minimum.accumulate(result.losses)[:-1]).all()
    assert (np.diff(result.lrs) > 0).all() and result.lrs[0] == pytest.approx(1e-7)
    assert result.lrs[0] <= result.suggestion <= result.lrs[-1]


def test_learner_lr_find_sweeps_the_whole_range_when_stable():
    learner = make_learner()
    result = learner.lr_find(small_problem(), start_lr=1e-6, end_lr=1e-4, num_it=20)
    assert len(result.lrs) == 20
    assert result.lrs[0] == pytest.approx(1e-6) and result.lrs[-1] == pytest.approx(1e-4)


def test_learner_lr_find_rejects_bad_range():
    with pytest.raises(ValueError, match="start_lr"):
        make_learner().lr_find(small_problem(), start_lr=1.0, end_lr=0.1)


def test_lr_find_defaults_sweep_exponentially_with_an_ewma_from_the_initial_loss():
    data = small_problem()
    learner = make_learner()
    learner.model.eval()
    with torch.no_grad():
        initial = float(torch.nn.functional.mse_loss(learner.model(data.x_cat, data.x_cont), data.y))
    result = learner.lr_find(data)
    assert result.lrs[0] == pytest.approx(1e-7)
    ratios = result.lrs[1:] / result.lrs[:-1]
    np.testing.assert_allclose(ratios, (10 / 1e-7) ** (1 / 99))  # 1e-7 .. 10 over 100 steps
    # The EWMA starts at the loss of the whole training set, not at 0 (no debiasing needed).
    avg, expected = initial, []
    for v in result.raw_losses:
        avg = 0.98 * avg + 0.02 * v
        expected.append(avg)
    np.testing.assert_allclose(result.losses, expected, rtol=1e-5)


def test_lr_find_is_not_stopped_by_one_heavy_tailed_batch():
    # A few huge targets: a batch holding one scores far above the others. With an EWMA
    # started at 0 and debiased, such a batch among the first steps passed the 4x stop rule at
    # once ("lr_find diverged within 3 steps"); the sweep must reach the LRs that do diverge.
    rng = np.random.default_rng(1)
    n = 2000
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    y = np.exp(2.0 * (0.5 * X["a"] + 0.5 * rng.normal(size=n)))
    result = TabularRegressor(random_state=1, layers=(32,)).lr_find(X, y)
    assert result.lrs[-1] > 1e-3


def test_steepest_ignores_noise_at_the_start_of_the_sweep():
    # A real sweep: flat but noisy for the tiny LRs, then a clean descent, then divergence.
    lrs = np.geomspace(1e-7, 10, 100)
    x = np.log10(lrs)
    losses = 1.0 / (1.0 + np.exp(3 * (x + 3))) + 0.2 + np.where(x > -1, (x + 1) ** 2, 0.0)
    losses[:5] += np.array([0.0, -0.3, 0.0, 0.0, 0.0])  # a sharp dip among the first points
    s = suggest_lrs(lrs, losses)
    assert 1e-4 < s["steepest"] < 1e-2
