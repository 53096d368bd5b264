"""The pieces of benchmarks/quality.py and benchmarks/speed.py on tiny generated data."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from benchmarks import quality, speed
from tabdl.estimators import TabularClassifier, TabularRegressor
from tabdl.learner import TensorData


@pytest.fixture
def tiny_card(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    n = 240
    df = pd.DataFrame({"c": rng.choice(["a", "b", "c"], n), "v": rng.normal(size=n)})
    noise = rng.random(n) < 0.2  # label noise, so no model scores a perfect AUC
    df["y"] = ((df["c"] == "a") ^ (df["v"] > 0.5) ^ noise).astype(int)
    df.to_csv(tmp_path / "tiny.csv", index=False)
    card = {
        "source": {"csv": "tiny.csv"},
        "target": {"column": "y", "equals": 1},
        "categorical": ["c"],
        "continuous": ["v"],
        "task": "binary",
        "metric": "roc_auc",
    }
    (tmp_path / "tiny.json").write_text(json.dumps(card))
    monkeypatch.setenv("TABDL_DATA_DIR", str(tmp_path))
    return "tiny"


def test_tabdl_model_merges_params_over_benchmark_defaults():
    reg = quality.tabdl_model("regression", ("a",), epochs=3)
    assert isinstance(reg, TabularRegressor)
    assert (reg.random_state, reg.cat_features, reg.epochs) == (0, ["a"], 3)
    clf = quality.tabdl_model("binary", ["a"], random_state=5)
    assert isinstance(clf, TabularClassifier) and clf.random_state == 5


def test_evaluate_rows_and_ratio_against_the_better_lightgbm(tiny_card):
    table = quality.evaluate(tiny_card, params={"epochs": 2}, label="tabdl 2 ep")
    assert list(table["model"])[0] == "tabdl 2 ep"
    assert {quality.LGBM_NATIVE, quality.LGBM_ORDINAL} <= set(table["model"])
    assert table["auc"].between(0, 1).all() and table["rmse"].isna().all()
    lgbm = table[table["model"].isin([quality.LGBM_NATIVE, quality.LGBM_ORDINAL])]
    assert lgbm["error_ratio_vs_lgbm"].min() == pytest.approx(1.0)
    errors = 1 - table["auc"]
    best = (1 - lgbm["auc"]).min()
    np.testing.assert_allclose(table["error_ratio_vs_lgbm"], errors / best)


def test_evaluate_without_baselines_leaves_the_ratio_empty(tiny_card):
    table = quality.evaluate(tiny_card, params={"epochs": 1}, baselines=False)
    assert len(table) == 1 and table["error_ratio_vs_lgbm"].isna().all()


@pytest.mark.parametrize("k", [1, 2])  # one net, and an ensemble net as the default config builds
def test_bare_loop_trains_the_given_module(k):
    g = torch.Generator().manual_seed(0)
    n = 300
    train = TensorData(
        torch.randint(0, 4, (n, 1), generator=g), torch.randn(n, 2, generator=g), torch.randint(0, 2, (n,), generator=g)
    )
    config = {"cardinalities": [4], "emb_dims": [3], "n_cont": 2, "n_out": 2, "k": k}
    model = speed._new_model(config)
    before = [p.detach().clone() for p in model.parameters()]
    # n = 300 leaves a one-row tail with batch size 299: it must be skipped (BatchNorm).
    wall, cpu = speed.timed(lambda: speed.bare_loop(model, train, 2, batch_size=299))
    assert wall > 0 and cpu > 0
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_speed_context_fits_one_net_that_the_bare_loop_rebuilds(tiny_card):
    # The sections compare one net with a bare loop over the same net: on a small table the
    # default n_bags="auto" made the estimator a bag, whose config TabularMLP refused (make demo).
    from tabdl import datasets
    from tabdl.modules import TabularMLP

    ctx = speed.SpeedContext.__new__(speed.SpeedContext)  # without loading flights
    ctx.quick, ctx.data, ctx.epochs = True, datasets.load(tiny_card), 1
    assert isinstance(ctx.fitted.model_, TabularMLP)
    assert isinstance(speed._new_model(ctx.fitted.model_config_), TabularMLP)
