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


def test_bins_stay_distinct_in_the_modules_float32():
    # Found in review: quantiles a float32 ulp apart were distinct in float64 and one edge once
    # cast, so rtdl refused the bins; a constant beyond 2**24 lost its + 1 in float32.
    a = np.float32(1)
    x = np.array([[a, 3e8]] * 3 + [[np.nextafter(a, np.float32(2)), 3e8]] * 3, np.float32)
    bins = compute_bins(x, 4)
    for b in bins:
        edges = np.asarray(b, dtype=np.float32)
        assert len(edges) >= 2 and (np.diff(edges) > 0).all()
    NumEmbeddings(2, num_embedding_config({"kind": "piecewise"}), bins)  # accepted by rtdl


def test_config_fills_defaults_and_rejects_unknown():
    cfg = num_embedding_config("periodic")
    assert cfg["kind"] == "periodic" and cfg["d_embedding"] > 0
    assert num_embedding_config({"kind": "piecewise", "n_bins": 4})["n_bins"] == 4
    assert num_embedding_config(None) is None
    with pytest.raises(ValueError, match="num_embeddings") as err:
        num_embedding_config("spline")
    assert str(err.value).endswith("got 'spline'")  # what was passed, not the dict it became
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
    np.testing.assert_allclose(
        reg.predict(X),
        TabularRegressor(num_embeddings=kind, epochs=2, random_state=0, n_bags=1).fit(X, y).predict(X),
        rtol=1e-5,
        atol=1e-6,
    )


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


@pytest.mark.parametrize("kind", ["periodic", "piecewise"])
def test_two_valued_columns_enter_raw_and_still_drive_the_output(kind, monkeypatch):
    # On wide tables flags, NaN indicators and constants skip the numerical embedding (any
    # function of two points is affine, so the embedding adds only cost); the flag must still
    # reach the MLP. The width bar is lowered so that a small frame crosses it.
    import tabdl.estimators

    monkeypatch.setattr(tabdl.estimators, "_RAW_FLAGS_ABOVE", 0)
    rng = np.random.default_rng(0)
    n = 1200
    X = pd.DataFrame(
        {"a": rng.normal(size=n), "flag": rng.integers(0, 2, size=n), "const": 5.0, "b": rng.uniform(size=n)}
    )
    X.loc[::13, "b"] = np.nan
    y = np.sin(2 * X["a"].to_numpy()) + 3.0 * X["flag"].to_numpy()
    reg = TabularRegressor(num_embeddings=kind, epochs=8, random_state=0, n_bags=1).fit(X, y)
    names = reg.preprocessor_.cont_out_names_
    raw = reg.model_config_["raw_cont"]  # [column, low, high]: they enter as 0 / 1
    assert [names[j] for j, _, _ in raw] == ["flag", "const", "b_na"]
    assert raw[2][1:] == [0.0, 1.0] and raw[1][1] == raw[1][2]  # NaN indicator; constant
    x = reg.preprocessor_.transform(X.iloc[:50])[1]
    j, low, high = raw[0]
    flags = (x[:, j] - low) / (high - low)
    assert set(flags.tolist()) == {0.0, 1.0} and flags.tolist() == X["flag"].iloc[:50].astype(float).tolist()
    d = reg.model_config_["num_embeddings"]["d_embedding"]
    assert reg.model_.num_embeds.out_dim == 2 * d  # a and b only
    if kind == "piecewise":
        assert len(reg.model_config_["num_bins"]) == 2
    gap = reg.predict(X.assign(flag=1)) - reg.predict(X.assign(flag=0))
    assert 2.5 < gap.mean() < 3.5
    np.testing.assert_allclose(reg.predict(X.iloc[[7]]), reg.predict(X)[[7]], rtol=1e-5, atol=1e-6)


def test_a_frame_of_flags_only_has_no_numerical_embedding(monkeypatch):
    import tabdl.estimators

    monkeypatch.setattr(tabdl.estimators, "_RAW_FLAGS_ABOVE", 0)
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.integers(0, 2, size=(1200, 4)), columns=list("pqrs"))
    y = X["p"].to_numpy() ^ X["q"].to_numpy()
    clf = TabularClassifier(num_embeddings="periodic", epochs=10, random_state=0, n_bags=1).fit(X, y)
    assert clf.model_.num_embeds is None and [r[0] for r in clf.model_config_["raw_cont"]] == [0, 1, 2, 3]
    assert (clf.predict(X) == y).mean() > 0.95  # XOR of two raw flags, learned by the MLP
    # The module alone: every column raw means no embedding and n_cont raw inputs.
    m = TabularMLP(
        cardinalities=[],
        emb_dims=[],
        n_cont=3,
        n_out=1,
        layers=(4,),
        num_embeddings=num_embedding_config("periodic"),
        raw_cont=[[0, 0, 1], [1, 0, 1], [2, 0, 1]],
    )
    assert m.num_embeds is None and m.body[0][0].in_features == 3
    # They enter as 0 / 1 whatever values the scaler gave them.
    m = TabularMLP(
        cardinalities=[],
        emb_dims=[],
        n_cont=2,
        n_out=1,
        layers=(4,),
        num_embeddings=num_embedding_config("periodic"),
        raw_cont=[[1, -0.5, 2.0]],
    )
    seen = []
    m.body[0].register_forward_hook(lambda mod, inp, out: seen.append(inp[0]))
    m.eval()(torch.zeros(3, 0, dtype=torch.int64), torch.tensor([[0.3, -0.5], [1.0, 2.0], [-2.0, -0.5]]))
    assert seen[0].shape == (3, m.num_embeds.out_dim + 1) and seen[0][:, -1].tolist() == [0.0, 1.0, 0.0]


def test_flags_keep_their_embedding_below_the_width_bar():
    from tabdl.estimators import _RAW_FLAGS_ABOVE

    d = num_embedding_config("periodic")["d_embedding"]
    rng = np.random.default_rng(0)
    for n_cols, raw in ((_RAW_FLAGS_ABOVE // d, False), (_RAW_FLAGS_ABOVE // d + 1, True)):
        X = pd.DataFrame(rng.integers(0, 2, size=(1000, n_cols)).astype(float)).add_prefix("f")
        X["x"] = rng.normal(size=1000)
        X = X.iloc[:, 1:]  # n_cols columns: n_cols - 1 flags and x
        reg = TabularRegressor(num_embeddings="periodic", epochs=1, random_state=0, n_bags=1, layers=(8,))
        reg.fit(X, X["x"].to_numpy())
        assert ("raw_cont" in reg.model_config_) == raw
        assert reg.model_.num_embeds.out_dim == (d if raw else n_cols * d)


def test_a_net_pickled_before_raw_columns_still_predicts():
    # forward reads split_cont, which __init__ sets: a net unpickled from before it existed has
    # no such attribute and must fall back to the class default (no raw columns).
    m = TabularMLP(
        cardinalities=[3], emb_dims=[2], n_cont=2, n_out=1, layers=(4,), num_embeddings=num_embedding_config("periodic")
    )
    x_cat, x_cont = torch.tensor([[1], [2]]), torch.randn(2, 2)
    expected = m.eval()(x_cat, x_cont)
    del m.__dict__["split_cont"]
    torch.testing.assert_close(m(x_cat, x_cont), expected)
