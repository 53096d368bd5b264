import json

import numpy as np
import pandas as pd
import pytest
import torch

from tabdl import TabularClassifier, TabularRegressor
from tabdl.modules import TabularMLP
from tabdl.num_embeddings import NumEmbeddings, compute_bins, num_embedding_config


def test_compute_bins_handles_constant_and_discrete_columns():
    x = np.column_stack([np.full(50, 3.0), np.tile([0.0, 1.0], 25), np.linspace(-1, 1, 50)])
    bins = compute_bins(x, n_bins=8)
    assert bins[0] == [3.0, 4.0]  # constant: one bin
    assert bins[1][0] == 0.0 and bins[1][-1] == 1.0 and len(bins[1]) <= 3  # repeated quantiles collapse
    assert len(bins[2]) == 9 and bins[2][0] == -1.0 and bins[2][-1] == 1.0
    for b in bins:
        assert all(lo < hi for lo, hi in zip(b, b[1:]))
    assert json.loads(json.dumps(bins)) == bins


def test_config_fills_defaults_and_rejects_unknown():
    cfg = num_embedding_config("periodic")
    assert cfg["kind"] == "periodic" and cfg["d_embedding"] > 0
    assert num_embedding_config({"kind": "piecewise", "n_bins": 4})["n_bins"] == 4
    assert num_embedding_config(None) is None
    with pytest.raises(ValueError, match="num_embeddings"):
        num_embedding_config("spline")
    with pytest.raises(ValueError, match="n_bins"):
        num_embedding_config({"kind": "periodic", "n_bins": 4})


@pytest.mark.parametrize("kind", ["periodic", "piecewise"])
def test_num_embeddings_shape(kind):
    x = torch.randn(7, 3)
    cfg = num_embedding_config({"kind": kind, "d_embedding": 5})
    m = NumEmbeddings(3, cfg, compute_bins(x.numpy(), 4))
    assert m(x).shape == (7, 15) and m.out_dim == 15


def _frame(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.uniform(size=n), "c": rng.choice(list("xyz"), size=n)})
    X.loc[::17, "b"] = np.nan  # gives a missing-value indicator column too
    y = np.sin(3 * X["a"].to_numpy()) + (X["c"] == "y").to_numpy()
    return X, y


@pytest.mark.parametrize("kind", ["periodic", "piecewise"])
def test_model_rebuilds_from_json_config(kind):
    # tabdl.io saves model_config_ as JSON plus the state_dict: that must be enough to rebuild.
    X, y = _frame()
    reg = TabularRegressor(num_embeddings=kind, epochs=2, random_state=0, n_bags=1).fit(X, y)
    cfg = json.loads(json.dumps(reg.model_config_))
    twin = TabularMLP(**cfg)
    twin.load_state_dict(reg.model_.state_dict())
    reg.model_ = twin
    np.testing.assert_allclose(reg.predict(X), TabularRegressor(num_embeddings=kind, epochs=2, random_state=0, n_bags=1)
                               .fit(X, y).predict(X), rtol=1e-5, atol=1e-6)


def test_piecewise_fits_a_sharp_response_better_than_raw_values():
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.uniform(-2, 2, size=800)})
    y = np.where(np.abs(X["a"].to_numpy()) < 0.5, 1.0, -1.0) + 0.3 * np.floor(2 * X["a"].to_numpy())
    err = {}
    for kind in (None, "piecewise"):
        reg = TabularRegressor(num_embeddings=kind, epochs=10, layers=(32,), random_state=0).fit(X, y)
        err[kind] = np.mean((reg.predict(X) - y) ** 2)
    assert err["piecewise"] < err[None]


def test_all_categorical_frame_ignores_num_embeddings():
    X = pd.DataFrame({"c": list("xyz") * 20})
    y = (X["c"] == "x").to_numpy().astype(int)
    clf = TabularClassifier(num_embeddings="piecewise", epochs=3, random_state=0, n_bags=1).fit(X, y)
    assert clf.model_.num_embeds is None
    assert clf.predict_proba(X.iloc[:1]).shape == (1, 2)


def test_save_load_roundtrip_with_piecewise_ensemble(tmp_path):
    import tabdl

    X, y = _frame()
    reg = TabularRegressor(num_embeddings="piecewise", n_members=3, epochs=2, random_state=0).fit(X, y)
    path = tmp_path / "m.tabdl"
    reg.save(path)
    np.testing.assert_allclose(tabdl.load(path).predict(X), reg.predict(X), rtol=1e-6)


def test_auto_embeds_only_with_enough_rows():
    from tabdl.num_embeddings import AUTO_MIN_ROWS

    assert num_embedding_config("auto", n_rows=AUTO_MIN_ROWS - 1) is None
    assert num_embedding_config("auto", n_rows=AUTO_MIN_ROWS)["kind"] == "periodic"
    X, y = _frame(1200)
    assert TabularRegressor(epochs=1, random_state=0, n_bags=1).fit(X, y).model_.num_embeds is not None
    assert TabularRegressor(epochs=1, random_state=0, n_bags=1).fit(X.iloc[:100], y[:100]).model_.num_embeds is None
