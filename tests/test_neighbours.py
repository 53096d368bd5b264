"""The item-neighbourhood correction of MatrixFactorization (tabdl.neighbours)."""

import numpy as np
import pandas as pd
import pytest
import torch

from tabdl import neighbours as nb
from tabdl.collab import MatrixFactorization
from tabdl.modules import DotProductBias

FAST = {"epochs": 10, "batch_size": 32, "lr": 3e-2, "n_factors": 4, "weight_decay": 0.0, "random_state": 0}


def _random_ratings(n_users=12, n_items=15, n=90, seed=0):
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n)  # code 0 (unknown) included: it must be skipped
    items = rng.integers(0, n_items, n)
    return users, items, rng.normal(size=n)


def _reference(users, items, resid, n_users, n_items, k):
    """Brute force: mean residual per pair, shrunk cosine between items, top-k positive."""
    R = np.zeros((n_users, n_items))
    cnt = np.zeros((n_users, n_items))
    for u, i, r in zip(users, items, resid):
        if u > 0 and i > 0:
            R[u, i] += r
            cnt[u, i] += 1
    R = np.divide(R, cnt, out=np.zeros_like(R), where=cnt > 0)
    rated = (cnt > 0).astype(float)
    sim = np.zeros((n_items, n_items))
    for i in range(1, n_items):
        for j in range(1, n_items):
            ni, nj = np.linalg.norm(R[:, i]), np.linalg.norm(R[:, j])
            if i != j and ni > 0 and nj > 0:
                co = rated[:, i] @ rated[:, j]
                sim[i, j] = max(0.0, R[:, i] @ R[:, j] / (ni * nj) * co / (co + nb.SIM_SHRINK))
    top = {
        i: sorted(((sim[i, j], j) for j in range(n_items) if sim[i, j] > 0), reverse=True)[:k] for i in range(n_items)
    }
    return R, rated, top


def test_tables_match_a_brute_force_reference():
    users, items, resid = _random_ratings()
    users = np.concatenate([users, users[:5]])  # a few pairs rated twice: their mean counts
    items = np.concatenate([items, items[:5]])
    resid = np.concatenate([resid, resid[:5] + 1.0])
    t = nb.fit_item_neighbours(users, items, resid, 12, 15, k=4)
    R, _, top = _reference(users, items, resid, 12, 15, 4)
    keys = t["pair_keys"].numpy()
    assert np.all(np.diff(keys) > 0)  # sorted, one per pair
    np.testing.assert_allclose(t["pair_residuals"].numpy(), R[keys // 15, keys % 15], rtol=1e-6)
    for i in range(15):
        got = sorted(zip(t["neighbour_weights"][i].tolist(), t["neighbour_items"][i].tolist()), reverse=True)
        got = [(w, j) for w, j in got if w > 0]
        assert [j for _, j in got] == [j for _, j in top[i]]
        np.testing.assert_allclose([w for w, _ in got], [w for w, _ in top[i]], rtol=1e-5)


def test_correction_matches_the_formula_and_the_matrix_matches_the_pairs():
    users, items, resid = _random_ratings(seed=1)
    t = nb.fit_item_neighbours(users, items, resid, 12, 15, k=5)
    R, rated, top = _reference(users, items, resid, 12, 15, 5)
    mod = nb.ItemNeighbours(15, **{"n_pairs": len(t["pair_keys"]), "k": 5})
    mod.set_tables(t)
    u, i = np.meshgrid(np.arange(12), np.arange(15), indexing="ij")
    got = mod(torch.as_tensor(u.ravel()), torch.as_tensor(i.ravel())).numpy()
    want = []
    for a, b in zip(u.ravel(), i.ravel()):
        num = sum(w * R[a, j] for w, j in top[b] if rated[a, j])
        den = sum(w for w, j in top[b] if rated[a, j])
        want.append(num / (den + nb.DENOM_SHRINK))
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert np.abs(want).max() > 0.05  # the case corrects something
    assert not got.reshape(12, 15)[0].any() and not got.reshape(12, 15)[:, 0].any()  # unknowns: none
    mat = mod.matrix(torch.arange(12), torch.arange(15)).numpy()
    np.testing.assert_allclose(mat, got.reshape(12, 15), atol=1e-6)
    mod.set_tables(None)
    assert mod.config == {"n_pairs": 0, "k": 0} and not mod(torch.tensor([3]), torch.tensor([4])).any()


def test_corrected_output_stays_inside_y_range():
    m = DotProductBias(
        n_users=3, n_items=3, n_factors=2, y_range=(0.5, 5.5), global_bias=3.0, neighbours={"n_pairs": 0, "k": 0}
    )
    m.neighbours.set_tables(
        {
            "pair_keys": torch.tensor([1 * 3 + 2]),
            "pair_residuals": torch.tensor([1e3]),
            "neighbour_items": torch.tensor([[0], [2], [1]]),
            "neighbour_weights": torch.tensor([[0.0], [1.0], [1.0]]),
        }
    )
    m.eval()
    x = torch.tensor([[1, 1], [1, 2]])
    out = m(x)[:, 0]
    assert out[0] == 5.5  # user 1 rated item 2, item 1's neighbour: pushed up, then clamped
    assert 0.5 < out[1] < 5.5  # item 2's neighbour (item 1) is unrated by user 1: no correction
    np.testing.assert_allclose(m.score_matrix(torch.tensor([1]), torch.tensor([1, 2]))[0].detach(), out.detach())
    m.train()
    assert m(x)[0, 0] < 5.5  # training sees the factors alone


def _series_ratings(seed=0):
    """Users rate films in 8 series; each user likes each series by its own offset (rank 8)."""
    rng = np.random.default_rng(seed)
    n_users, n_series, per = 60, 8, 5
    offset = rng.normal(scale=1.0, size=(n_users, n_series))
    rows = [
        (u, s * per + f, 3 + offset[u, s] + 0.2 * rng.normal())
        for u in range(n_users)
        for s in range(n_series)
        for f in range(per)
        if rng.random() < 0.8
    ]
    frame = pd.DataFrame(rows, columns=["user", "item", "rating"])
    frame["rating"] = frame["rating"].clip(1, 5)
    test = frame.groupby("user").sample(n=5, random_state=seed).index
    train = frame.drop(index=test)
    test = frame.loc[test]
    return train[["user", "item"]], train["rating"], test[["user", "item"]], test["rating"]


def test_neighbours_recover_what_few_factors_miss():
    X, y, Xt, yt = _series_ratings()
    params = {**FAST, "n_factors": 2, "epochs": 20}
    rmse = {}
    for k in (0, 10):
        mf = MatrixFactorization(n_neighbors=k, **params).fit(X, y)
        rmse[k] = float(np.sqrt(np.mean((mf.predict(Xt) - yt.to_numpy()) ** 2)))
    assert rmse[10] < 0.8 * rmse[0], rmse


def test_estimator_fits_and_refits_the_correction():
    X, y, Xt, _ = _series_ratings(seed=1)
    plain = MatrixFactorization(n_neighbors=0, **FAST).fit(X, y)
    assert plain.model_.neighbours is None and plain.model_config_["neighbours"] is None
    mf = MatrixFactorization(**FAST).fit(X, y)
    n_pairs = len(X.drop_duplicates())
    assert mf.model_config_["neighbours"] == {"n_pairs": n_pairs, "k": 39}  # k capped at items - 1
    # Without the tables the same weights predict exactly as the plain fit (same seed, same factors).
    tables = {name: buf.clone() for name, buf in mf.model_.neighbours.named_buffers()}
    mf.model_.neighbours.set_tables(None)
    np.testing.assert_array_equal(mf.predict(Xt), plain.predict(Xt))
    mf.model_.neighbours.set_tables(tables)
    assert not np.allclose(mf.predict(Xt), plain.predict(Xt))
    # recommend scores the same corrected predictions
    user = X["user"].iloc[0]
    rec = mf.recommend(user, k=5, exclude_seen=False)
    np.testing.assert_allclose(rec["score"], mf.predict(pd.DataFrame({"user": user, "item": rec["item"]})), rtol=1e-5)
    # another cycle refits the correction on the ratings it knew plus the new ones
    part = X.iloc[: len(X) // 2]
    mf.fit_one_cycle(part, y.iloc[: len(X) // 2], epochs=1)
    assert mf.model_config_["neighbours"]["n_pairs"] == n_pairs


def test_a_cycle_on_new_ratings_keeps_what_the_correction_knew():
    X, y, Xt, yt = _series_ratings(seed=4)
    shuffled = X.sample(frac=1.0, random_state=0).index  # new ratings of known users and items
    old, new = shuffled[: int(0.9 * len(X))], shuffled[int(0.9 * len(X)) :]
    mf = MatrixFactorization(**{**FAST, "n_factors": 2, "epochs": 20}).fit(X.loc[old], y.loc[old])
    rmse = lambda: float(np.sqrt(np.mean((mf.predict(Xt) - yt.to_numpy()) ** 2)))  # noqa: E731
    before = rmse()
    mf.fit_one_cycle(X.loc[new], y.loc[new], epochs=1, lr=1e-4)  # the factors barely move
    assert mf.model_config_["neighbours"]["n_pairs"] == len(X)  # old pairs and new ones
    plain = MatrixFactorization(**{**FAST, "n_factors": 2, "epochs": 20, "n_neighbors": 0}).fit(X.loc[old], y.loc[old])
    plain_rmse = float(np.sqrt(np.mean((plain.predict(Xt) - yt.to_numpy()) ** 2)))
    assert rmse() < before + 0.01 and rmse() < 0.85 * plain_rmse, (before, rmse(), plain_rmse)


@pytest.mark.parametrize("bad", [-1, 1.5, "many"])
def test_bad_n_neighbors_is_named(bad):
    X, y, _, _ = _series_ratings()
    with pytest.raises(ValueError, match="n_neighbors"):
        MatrixFactorization(n_neighbors=bad).fit(X, y)


def test_saved_model_keeps_the_correction(tmp_path):
    import tabdl

    X, y, Xt, _ = _series_ratings(seed=2)
    mf = MatrixFactorization(**FAST).fit(X, y)
    assert mf.model_config_["neighbours"]["n_pairs"] > 0
    back = tabdl.load(mf.save(tmp_path / "mf.zip"))
    assert back.model_config_["neighbours"] == mf.model_config_["neighbours"]
    np.testing.assert_array_equal(back.predict(Xt), mf.predict(Xt))
    user = X["user"].iloc[0]
    pd.testing.assert_frame_equal(back.recommend(user, k=5), mf.recommend(user, k=5))


def test_dense_and_sparse_top_k_agree(monkeypatch):
    # Denser ratings (no exact ties among similarities), then the two top-k passes must agree.
    users, items, resid = _random_ratings(n_users=40, n_items=25, n=500, seed=3)
    out = {}
    for name, share in (("dense", -1.0), ("sparse", 2.0)):  # every block one way, then the other
        monkeypatch.setattr(nb, "_DENSE_SHARE", share)
        out[name] = nb.fit_item_neighbours(users, items, resid, 40, 25, k=6)
    for key in out["dense"]:
        d, s = out["dense"][key], out["sparse"][key]
        if key.startswith("neighbour"):  # the same neighbours, perhaps in another order
            w_d, w_s = out["dense"]["neighbour_weights"], out["sparse"]["neighbour_weights"]
            order_d, order_s = w_d.argsort(dim=1), w_s.argsort(dim=1)
            d, s = d.gather(1, order_d), s.gather(1, order_s)
        torch.testing.assert_close(d, s)
    assert (out["dense"]["neighbour_weights"] > 0).sum() > 100


def test_refused_continued_cycle_keeps_the_correction():
    X, y, Xt, _ = _series_ratings(seed=3)
    mf = MatrixFactorization(**FAST).fit(X, y)
    before, config = mf.predict(Xt), dict(mf.model_config_["neighbours"])
    for bad in ({"epochs": 1.5}, {"epochs": 0}, {"lr": -1.0}):
        with pytest.raises(ValueError, match="epochs|lr"):
            mf.fit_one_cycle(X, y, **bad)
        assert mf.model_config_["neighbours"] == config
        np.testing.assert_array_equal(mf.predict(Xt), before)


def test_emptied_tables_free_their_memory():
    users, items, resid = _random_ratings()
    mod = nb.ItemNeighbours(15)
    mod.set_tables(nb.fit_item_neighbours(users, items, resid, 12, 15, k=4))
    assert mod.pair_keys.untyped_storage().nbytes() > 0
    mod.set_tables(None)
    assert all(buf.untyped_storage().nbytes() == 0 for buf in mod.buffers())


def test_recommend_matrix_is_built_once_per_set_of_tables():
    import copy
    import pickle

    users, items, resid = _random_ratings(seed=5)
    mod = nb.ItemNeighbours(15)
    mod.set_tables(nb.fit_item_neighbours(users, items, resid, 12, 15, k=4))
    u, i = torch.arange(12), torch.arange(15)
    first = mod.matrix(u, i)
    cached = mod._weights_csr()
    assert mod._weights_csr() is cached  # reused by the next chunk of users
    with torch.no_grad():
        mod.neighbour_weights.mul_(2.0)  # changed in place (as load_state_dict does)
    assert mod._weights_csr() is not cached
    torch.testing.assert_close(mod.matrix(u, i), mod(u.repeat_interleave(15), i.repeat(12)).reshape(12, 15))
    assert not torch.allclose(mod.matrix(u, i), first)
    mod.set_tables(nb.fit_item_neighbours(users, items, -resid, 12, 15, k=4))  # new tables
    torch.testing.assert_close(mod.matrix(u, i), mod(u.repeat_interleave(15), i.repeat(12)).reshape(12, 15))
    for clone in (pickle.loads(pickle.dumps(mod)), copy.deepcopy(mod)):
        assert clone._csr is None
        torch.testing.assert_close(clone.matrix(u, i), mod.matrix(u, i))


def test_dense_and_sparse_top_k_break_ties_alike(monkeypatch):
    # Found in review: items with a single co-rater share similarities exactly, and the dense
    # pass (argpartition) broke those ties its own way: the same ratings gave other tables by path.
    rng = np.random.default_rng(0)
    users, items = rng.integers(1, 30, 120), rng.integers(1, 40, 120)
    resid = rng.choice([-1.0, 1.0], 120)
    out = {}
    for name, share in (("dense", -1.0), ("sparse", 2.0)):
        monkeypatch.setattr(nb, "_DENSE_SHARE", share)
        out[name] = nb.fit_item_neighbours(users, items, resid, 30, 40, k=3)
    w = out["dense"]["neighbour_weights"]
    assert ((w[:, :-1] == w[:, 1:]) & (w[:, 1:] > 0)).any()  # ties among real neighbours occur here
    for key in out["dense"]:
        torch.testing.assert_close(out["dense"][key], out["sparse"][key], rtol=0, atol=0)
