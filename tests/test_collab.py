import copy
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError

from tabdl.collab import FactorEncoder, MatrixFactorization
from tabdl.metrics import ndcg_at_k, recall_at_k
from tabdl.modules import DotProductBias

FAST = {"epochs": 10, "batch_size": 32, "lr": 3e-2, "n_factors": 4, "weight_decay": 0.0, "random_state": 0}


def _ratings(n_users=30, n_items=20, frac=0.6, seed=0, ids=int):
    """Low-rank ratings on a 1..5 scale: users and items in two taste groups, plus biases."""
    rng = np.random.default_rng(seed)
    u_group = np.arange(n_users) % 2
    i_group = np.arange(n_items) % 2
    pairs = np.array([(u, i) for u in range(n_users) for i in range(n_items) if rng.random() < frac])
    u, i = pairs[:, 0], pairs[:, 1]
    r = 3 + 1.5 * np.where(u_group[u] == i_group[i], 1, -1) + 0.3 * rng.normal(size=len(u))
    users = [ids(f"u{k}") if ids is str else k + 1 for k in u]
    items = [ids(f"m{k}") if ids is str else 100 + k for k in i]
    X = pd.DataFrame({"user": users, "item": items})
    return X, pd.Series(np.clip(r, 1, 5), name="rating")


@pytest.fixture(scope="module")
def fitted():
    X, y = _ratings()
    return MatrixFactorization(**FAST).fit(X, y), X, y


def test_learns_low_rank_ratings(fitted):
    mf, X, y = fitted
    rmse = np.sqrt(np.mean((mf.predict(X) - y.to_numpy()) ** 2))
    assert rmse < 0.5 * y.std()


def test_unknown_user_and_item_fall_back_to_global_mean_plus_known_bias(fitted):
    mf, X, _ = fitted
    lo, hi = mf.y_range_
    both_unknown = mf.predict(pd.DataFrame({"user": [-1, -2, None], "item": [-5, -6, None]}))
    assert np.all(np.isfinite(both_unknown))
    np.testing.assert_allclose(both_unknown, both_unknown[0])  # nothing id-specific is left
    logit = lambda p: np.log((p - lo) / (hi - p))  # noqa: E731
    sigm = lambda z: lo + (hi - lo) / (1 + np.exp(-z))  # noqa: E731
    item = X["item"].iloc[0]
    pred = mf.predict(pd.DataFrame({"user": [-1], "item": [item]}))
    expected = sigm(logit(both_unknown[0]) + mf.item_bias_.loc[item, "bias"])
    np.testing.assert_allclose(pred, [expected], rtol=1e-5)
    user = X["user"].iloc[0]
    pred = mf.predict(pd.DataFrame({"user": [user, user], "item": [-9, -10]}))
    expected = sigm(logit(both_unknown[0]) + mf.user_bias_.loc[user, "bias"])
    np.testing.assert_allclose(pred, [expected, expected], rtol=1e-5)


def test_unknown_rows_of_the_model_stay_zero_after_training(fitted):
    mf, _, _ = fitted
    assert torch.all(mf.model_.user_weight[0] == 0) and torch.all(mf.model_.item_weight[0] == 0)


def test_predictions_stay_inside_y_range():
    X, y = _ratings()
    y = y.where(y < 4.5, 5.0)  # pile ratings at the top of the range
    for y_range in ["auto", (1.0, 5.0)]:
        mf = MatrixFactorization(**{**FAST, "lr": 0.1}, y_range=y_range).fit(X, y)
        lo, hi = mf.y_range_
        every_pair = pd.DataFrame(
            [(u, i) for u in X["user"].unique() for i in X["item"].unique()], columns=["user", "item"]
        )
        p = mf.predict(every_pair)
        assert p.min() >= lo and p.max() <= hi
        if y_range != "auto":
            assert (lo, hi) == y_range


def test_recommend_excludes_seen_items_and_is_sorted(fitted):
    mf, X, _ = fitted
    user = X["user"].iloc[0]
    seen = set(X.loc[X["user"] == user, "item"])
    rec = mf.recommend(user, k=5)
    assert list(rec.columns) == ["item", "score"]
    assert len(rec) == min(5, X["item"].nunique() - len(seen))
    assert not set(rec["item"]) & seen
    assert np.all(np.diff(rec["score"].to_numpy()) <= 0)
    # Scores are the model's predictions for those pairs.
    pairs = pd.DataFrame({"user": user, "item": rec["item"]})
    np.testing.assert_allclose(rec["score"], mf.predict(pairs), rtol=1e-5)
    everything = mf.recommend(user, k=1000, exclude_seen=False)
    assert len(everything) == X["item"].nunique() and seen <= set(everything["item"])
    with pytest.raises(ValueError, match="exclude_seen must be True or False, got 'no'"):
        mf.recommend(user, exclude_seen="no")  # truthy: it excluded, the opposite of what it says
    assert mf.recommend(user, k=3, exclude_seen=np.bool_(True)).equals(mf.recommend(user, k=3))


def test_recommend_for_several_users_returns_one_frame(fitted):
    mf, X, _ = fitted
    users = list(X["user"].unique()[:3]) + [-1]  # an unknown user still gets recommendations
    rec = mf.recommend(users, k=3)
    assert list(rec.columns) == ["user", "item", "score"]
    assert rec["user"].tolist() == [u for u in users for _ in range(3)]
    for u in users[:3]:
        one = mf.recommend(u, k=3)
        np.testing.assert_array_equal(rec.loc[rec["user"] == u, "item"], one["item"])
    # a set, a dict's keys or a generator are several users too (np.ndim read each as one
    # object: one unknown user)
    two = sorted(users[:2])
    for many in (set(two), dict.fromkeys(two).keys(), (u for u in two)):
        assert mf.recommend(many, k=3)["user"].unique().tolist() == two
    # a frame or a 2-D array is not a list of users: it iterated its column labels (or rows) as
    # unknown users
    for table in (X[["user"]], X[["user"]].to_numpy()):
        with pytest.raises(ValueError, match="1-D list of ids"):
            mf.recommend(table, k=3)


def test_embedding_encoder_points_to_the_factor_encoders(fitted):
    with pytest.raises(AttributeError, match="user_encoder"):
        fitted[0].embedding_encoder()


def test_recommend_for_no_users_is_an_empty_frame(fitted):
    # pd.concat of no per-user frames raised "No objects to concatenate".
    mf = fitted[0]
    for users in ([], np.array([], dtype=np.int64)):
        rec = mf.recommend(users, k=3)
        assert list(rec.columns) == ["user", "item", "score"] and len(rec) == 0


def test_similar_items_ranks_by_cosine_on_a_constructed_case(fitted):
    mf = clone(fitted[0]).fit(fitted[1], fitted[2])
    items = mf.item_ids_
    # Constructed factors: item k points at angle k * 10 degrees in the first two factors.
    angles = np.deg2rad(10.0 * np.arange(len(items)))
    table = np.zeros((len(items), mf.n_factors), np.float32)
    table[:, 0], table[:, 1] = np.cos(angles), np.sin(angles)
    table *= np.linspace(1, 3, len(items))[:, None].astype(np.float32)  # norms must not matter
    with torch.no_grad():
        mf.model_.item_weight[1:, :-1] = torch.from_numpy(table)
    sim = mf.similar_items(items[5], k=4)
    assert list(sim.columns) == ["item", "similarity"]
    assert set(sim["item"][:2]) == {items[4], items[6]} and set(sim["item"][2:]) == {items[3], items[7]}
    np.testing.assert_allclose(sim["similarity"][:2], np.cos(np.deg2rad(10)), rtol=1e-5)
    with pytest.raises(ValueError, match="not seen"):
        mf.similar_items("no such item")


def test_same_random_state_gives_the_same_model():
    X, y = _ratings()
    a = MatrixFactorization(**FAST).fit(X, y).predict(X)
    b = MatrixFactorization(**FAST).fit(X, y).predict(X)
    c = MatrixFactorization(**{**FAST, "random_state": 1}).fit(X, y).predict(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_string_ids_and_key_normalisation():
    X, y = _ratings(ids=str)
    X = X.astype({"user": "str", "item": "str"})  # pandas' str dtype
    mf = MatrixFactorization(**FAST).fit(X, y)
    assert "m0" in mf.item_factors_.index and all(isinstance(v, str) for v in mf.item_factors_.index)
    assert set(mf.recommend("u0", k=3)["item"]) <= set(X["item"])
    # Ints fit, then the same ids as floats or strings predict the same.
    Xi, yi = _ratings()
    mf = MatrixFactorization(**FAST).fit(Xi, yi)
    row = Xi.iloc[:3]
    np.testing.assert_allclose(mf.predict(row), mf.predict(row.astype(float)))
    np.testing.assert_allclose(mf.predict(row), mf.predict(row.astype(str)))


def test_columns_by_name_and_extra_columns():
    X, y = _ratings()
    X2 = X.rename(columns={"user": "uid", "item": "iid"}).assign(ts=np.arange(len(X)))[["ts", "iid", "uid"]]
    mf = MatrixFactorization(**FAST, user_col="uid", item_col="iid").fit(X2, y)
    assert mf.user_factors_.index.name == "uid" and mf.item_factors_.index.name == "iid"
    ref = MatrixFactorization(**FAST).fit(X, y)
    np.testing.assert_allclose(mf.predict(X2), ref.predict(X), rtol=1e-5)
    # A column it never reads may come twice; one it reads may not.
    twice = pd.concat([X2, X2[["ts"]]], axis=1)
    np.testing.assert_array_equal(mf.predict(twice), mf.predict(X2))
    np.testing.assert_array_equal(mf.predict(twice.iloc[:1]), mf.predict(X2.iloc[:1]))
    with pytest.raises(ValueError, match="'uid' more than once"):
        mf.predict(pd.concat([X2, X2[["uid"]]], axis=1).iloc[:1])


def test_a_failed_refit_keeps_the_fitted_model(fitted, monkeypatch):
    # Its ids and seen pairs are set after the nets train: a failure there (here a stand-in for a
    # MemoryError) left the new tables beside the old ids, and user_factors_ failed on the shapes.
    import tabdl.collab

    mf, X, y = fitted
    mf = copy.deepcopy(mf)
    before = mf.predict(X)
    with pytest.raises(ValueError, match="eval_set"):
        mf.fit(X, y, eval_set=(X.drop(columns="item"), y))

    def fail(*args, **kwargs):
        raise MemoryError("stand-in")

    monkeypatch.setattr(tabdl.collab, "_ids_for", fail)
    more = X.assign(user=X["user"] + 1000)
    with pytest.raises(MemoryError):
        mf.fit(pd.concat([X, more]), pd.concat([y, y]))
    np.testing.assert_array_equal(mf.predict(X), before)
    assert mf.user_factors_.shape[0] == X["user"].nunique()


def test_learned_tables_are_frames_indexed_by_id(fitted):
    mf, X, _ = fitted
    assert mf.user_factors_.shape == (X["user"].nunique(), mf.n_factors)
    assert mf.item_factors_.shape == (X["item"].nunique(), mf.n_factors)
    assert list(mf.user_bias_.columns) == ["bias"] and set(mf.item_bias_.index) == set(X["item"])


def test_fitted_tables_follow_the_model_not_a_later_kind(fitted):
    # set_params(kind=...) after fit changes the parameter, not the fitted model: item_factors_
    # took the bias column for a factor, similar_items scored it and item_bias_ refused.
    mf, X, _ = fitted
    mf = copy.deepcopy(mf)
    factors, bias, similar = mf.item_factors_, mf.item_bias_, mf.similar_items(X["item"].iloc[0], k=5)
    mf.set_params(kind="nn")
    pd.testing.assert_frame_equal(mf.item_factors_, factors)
    pd.testing.assert_frame_equal(mf.item_bias_, bias)
    pd.testing.assert_frame_equal(mf.similar_items(X["item"].iloc[0], k=5), similar)


def test_clone_and_params():
    mf = MatrixFactorization(n_factors=8, kind="nn", weight_decay=0.3, random_state=2)
    c = clone(mf)
    assert c.get_params() == mf.get_params()
    with pytest.raises(NotFittedError):
        c.predict(pd.DataFrame({"user": [1], "item": [2]}))
    assert not hasattr(c, "user_factors_")


def test_nn_kind_fits_and_stays_in_range():
    X, y = _ratings()
    mf = MatrixFactorization(**FAST, kind="nn", layers=(16,)).fit(X, y)
    p = mf.predict(pd.concat([X, pd.DataFrame({"user": [-1], "item": [-1]})]))
    lo, hi = mf.y_range_
    assert np.all((p >= lo) & (p <= hi))
    assert mf.item_factors_.shape == (X["item"].nunique(), mf.n_factors)
    assert not hasattr(mf, "item_bias_")  # only the dot model learns biases
    user = X["user"].iloc[0]
    rec = mf.recommend(user, k=3)
    assert len(rec) == 3 and np.all(np.diff(rec["score"]) <= 0)
    np.testing.assert_allclose(rec["score"], mf.predict(pd.DataFrame({"user": user, "item": rec["item"]})), rtol=1e-5)


def test_nn_kind_scores_items_in_chunks_that_bound_memory(monkeypatch):
    # Found in review: the MLP scored every (user, item) row of a chunk at once, each row as wide
    # as its widest layer: 300 users x 20,000 items peaked at 6.7 GB. Items now go in chunks.
    import tabdl.collab as collab

    X, y = _ratings()
    mf = MatrixFactorization(**FAST, kind="nn", layers=(16,)).fit(X, y)
    users = X["user"].unique()[:4].tolist()
    whole = mf.recommend(users, k=20, exclude_seen=False)
    monkeypatch.setattr(collab, "_SCORE_CHUNK", 64)  # 64 activations: an item or so per pass
    chunked = mf.recommend(users, k=20, exclude_seen=False)
    pd.testing.assert_frame_equal(chunked, whole, rtol=1e-5)
    pairs = chunked[["user", "item"]]
    np.testing.assert_allclose(chunked["score"], mf.predict(pairs), rtol=1e-5)


def test_bad_parameters_name_themselves():
    X, y = _ratings()
    with pytest.raises(ValueError, match="kind"):
        MatrixFactorization(kind="svd").fit(X, y)
    with pytest.raises(ValueError, match="n_factors"):
        MatrixFactorization(n_factors=0).fit(X, y)
    with pytest.raises(ValueError, match="y_range"):
        MatrixFactorization(y_range=(5, 1)).fit(X, y)
    with pytest.raises(ValueError, match="user column and an item column"):
        MatrixFactorization().fit(X[["user"]], y)
    with pytest.raises(ValueError, match="batch_size=1 cannot train"):  # kind="nn" normalises its batches
        MatrixFactorization(kind="nn", batch_size=1).fit(X, y)
    with pytest.raises(ValueError, match="lazy_updates"):  # "no" behaved as True
        MatrixFactorization(lazy_updates="no").fit(X, y)
    # item_col naming the default user column (position 0) was caught later as a data error
    with pytest.raises(ValueError, match="user_col and item_col name the same column 'user'"):
        MatrixFactorization(item_col="user").fit(X, y)
    with pytest.raises(ValueError, match="user_col must be a column name or position"):
        MatrixFactorization(user_col=True).fit(X, y)


def test_default_id_columns_are_the_first_two_by_position():
    # None was matched as the labels 0 and 1 first: int-labelled columns [1, 0] swapped users and
    # items, and [2, 0] read as the same column twice.
    X, y = _ratings()
    mf = MatrixFactorization(**FAST).fit(X.set_axis([1, 0], axis=1), y)
    assert (mf.user_col_, mf.item_col_) == (1, 0)
    np.testing.assert_array_equal(np.sort(mf.user_ids_), np.sort(X["user"].unique()))
    assert (MatrixFactorization(**FAST).fit(X.set_axis([2, 0], axis=1), y).user_col_) == 2


def test_encoders_map_ids_to_factors_and_survive_clone(fitted):
    mf, X, _ = fitted
    enc = mf.item_encoder()
    out = enc.transform(X[["item"]].iloc[:5])
    np.testing.assert_allclose(out, mf.item_factors_.loc[X["item"].iloc[:5]].to_numpy())
    assert np.all(enc.transform(pd.Series([-1, None], dtype=object)) == 0)  # unknown -> zeros
    names = enc.get_feature_names_out()
    assert len(names) == mf.n_factors and names[0] == "item_f0"
    assert mf.user_encoder(include_bias=True).transform(X["user"]).shape == (len(X), mf.n_factors + 1)
    ct = ColumnTransformer([("item", clone(enc), ["item"]), ("user", mf.user_encoder(), ["user"])])
    assert ct.fit_transform(X).shape == (len(X), 2 * mf.n_factors)
    with pytest.raises(ValueError, match="DataFrame"):
        FactorEncoder().fit()


def test_ranking_metrics_on_a_hand_made_case():
    held_out = pd.DataFrame({"u": [1, 1, 1, 2, 2, 3], "i": [10, 11, 12, 20, 21, 30]})
    ratings = np.array([5, 4, 2, 5, 1, 2])  # relevant (>= 4): user 1 {10, 11}, user 2 {20}; user 3 none
    recs = pd.DataFrame({"user": [1, 1, 1, 2, 2], "item": [11, 99, 10, 98, 20]})
    # user 1: hits at ranks 0 and 2; user 2: hit at rank 1.
    assert recall_at_k(held_out, ratings, recs, k=3) == pytest.approx(1.0)
    assert recall_at_k(held_out, ratings, recs, k=2) == pytest.approx((0.5 + 1.0) / 2)
    ndcg1 = (1 + 1 / np.log2(4)) / (1 + 1 / np.log2(3))
    ndcg2 = (1 / np.log2(3)) / 1.0
    assert ndcg_at_k(held_out, ratings, recs, k=3) == pytest.approx((ndcg1 + ndcg2) / 2)
    # String ids and users without recommendations count as misses.
    recs_str = recs.astype(str).iloc[:3]
    assert recall_at_k(held_out, ratings, recs_str, k=3) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="columns user and item"):
        recall_at_k(held_out, ratings, recs.rename(columns={"item": "movie"}))


def test_dot_product_bias_score_matrix_matches_forward():
    torch.manual_seed(0)
    m = DotProductBias(n_users=5, n_items=7, n_factors=3, y_range=(0, 5), global_bias=0.2)
    with torch.no_grad():
        m.embeds.weight.normal_()
        m.embeds.weight[0] = 0  # the unknown row (padding_idx), as training keeps it
    m.eval()
    users, items = torch.arange(5), torch.arange(7)
    pairs = torch.stack([users.repeat_interleave(7), items.repeat(5)], dim=1)
    np.testing.assert_allclose(
        m.score_matrix(users, items).detach().numpy(), m(pairs, None).detach().numpy().reshape(5, 7), rtol=1e-5
    )
    assert m(torch.tensor([[0, 0]]), None).item() == pytest.approx(5 / (1 + np.exp(-0.2)))


def test_save_load_and_pickle_round_trip(fitted, tmp_path):
    import pickle

    from tabdl import load

    mf, X, _ = fitted
    back = load(mf.save(tmp_path / "mf.tabdl"))
    np.testing.assert_allclose(back.predict(X), mf.predict(X), rtol=1e-6)
    user = X["user"].iloc[0]
    pd.testing.assert_frame_equal(back.recommend(user, k=4), mf.recommend(user, k=4))
    again = pickle.loads(pickle.dumps(mf))
    np.testing.assert_allclose(again.predict(X), mf.predict(X), rtol=1e-6)


def test_dense_updates_and_weight_decay_also_train():
    X, y = _ratings()
    mf = MatrixFactorization(**{**FAST, "weight_decay": 0.01}, lazy_updates=False).fit(X, y)
    assert not mf.model_.embeds.sparse
    assert np.sqrt(np.mean((mf.predict(X) - y.to_numpy()) ** 2)) < 0.5 * y.std()
    assert MatrixFactorization(**FAST).fit(X, y).model_.embeds.sparse  # the default: lazy updates


def test_continued_training_refuses_ratings_outside_y_range(fitted):
    mf, X, y = fitted
    mf = clone(mf).fit(X, y)
    lo, hi = mf.y_range_
    with pytest.raises(ValueError, match="y_range"):
        mf.fit_one_cycle(X, y * 2, epochs=1)  # a 1-10 scale on a 1-5 model
    mf.fit_one_cycle(X, y.clip(lo, hi), epochs=1)  # inside the range: trains on
    assert mf.predict(X).max() <= hi


def test_continued_training_on_an_explicit_y_range_warns_as_fit_does():
    # Found in review: fit warned about ratings beyond the user's own y_range and trained, while
    # fit_one_cycle refused the very same data.
    X, y = _ratings()
    mf = MatrixFactorization(**{**FAST, "epochs": 1}, y_range=(0, 7))
    with pytest.warns(UserWarning, match=r"y_range=\(0, 7\) leaves out"):
        mf.fit(X, 2 * y)
    with pytest.warns(UserWarning, match=r"y_range=\(0.0, 7.0\) leaves out"):  # y_range_, the fitted range
        mf.fit_one_cycle(X, 2 * y, epochs=1)
    assert mf.predict(X).max() <= 7


def test_continued_training_checks_the_fitted_y_range_not_a_later_one():
    # A y_range set after fit does not move the model's sigmoid: ratings inside the new range but
    # beyond y_range_ trained without a word (a 1-5 model topped out at 5.5 on 1-10 ratings), and
    # y_range=None failed with a TypeError.
    X, y = _ratings()
    mf = MatrixFactorization(**{**FAST, "epochs": 1}, y_range=(0, 5.5)).fit(X, y)
    for later in ((0, 10), None):
        mf.set_params(y_range=later)
        with pytest.warns(UserWarning, match=r"y_range=\(0.0, 5.5\) leaves out"):
            mf.fit_one_cycle(X, 2 * y, epochs=1)
        assert mf.y_range_ == (0.0, 5.5)


def test_the_training_X_alone_decides_the_id_columns():
    # Found in review: the eval_set's X was checked by the same method that resolved the id
    # columns, so an eval_set with its columns swapped made the items the users, and an array
    # eval_set was refused when user_col named a column.
    X, y = _ratings()
    Xv, yv = X.iloc[:40], y.iloc[:40]
    base = MatrixFactorization(**{**FAST, "epochs": 2}).fit(X, y, eval_set=(Xv, yv))
    swapped = MatrixFactorization(**{**FAST, "epochs": 2}).fit(X, y, eval_set=(Xv[["item", "user"]], yv))
    assert (swapped.user_col_, swapped.item_col_) == ("user", "item")
    np.testing.assert_array_equal(swapped.predict(X), base.predict(X))
    named = MatrixFactorization(**{**FAST, "epochs": 2}, user_col="user", item_col="item")
    with pytest.warns(UserWarning, match="valid feature names"):  # by position, as predict reads an array
        named.fit(X, y, eval_set=(Xv.to_numpy(), yv))
    np.testing.assert_array_equal(named.predict(X), base.predict(X))
    with pytest.raises(ValueError, match="X has the column 'a' more than once"):
        MatrixFactorization(**FAST).fit(X.set_axis(["a", "a"], axis=1), y)


def test_a_column_y_warns_as_scikit_learn_does():
    from sklearn.exceptions import DataConversionWarning

    X, y = _ratings()
    with pytest.warns(DataConversionWarning):
        MatrixFactorization(**{**FAST, "epochs": 1}).fit(X, y.to_numpy().reshape(-1, 1))


def test_tuple_ids_recommend_as_one_user_each(tmp_path):
    # Found in review: tuple ids trained, but user_ids_ became a 2-D array and recommend failed
    # (a tuple was also read as several users).
    X, y = _ratings()
    X = X.assign(user=[(u % 7, "g") for u in X["user"]])
    mf = MatrixFactorization(**{**FAST, "epochs": 2}).fit(X, y)
    assert mf.user_ids_.shape == (7,) and (3, "g") in set(mf.user_ids_)
    one = mf.recommend((3, "g"), k=2, exclude_seen=False)
    assert list(one.columns) == ["item", "score"] and len(one) == 2
    many = mf.recommend([(3, "g"), (4, "g")], k=2, exclude_seen=False)
    assert many["user"].tolist() == [(3, "g")] * 2 + [(4, "g")] * 2
    np.testing.assert_array_equal(many["score"].to_numpy()[:2], one["score"].to_numpy())
    mf.save(tmp_path / "m")
    from tabdl import load

    back = load(tmp_path / "m")
    pd.testing.assert_frame_equal(back.recommend((3, "g"), k=2, exclude_seen=False), one)


def test_an_explicit_y_range_that_leaves_out_ratings_warns_at_fit():
    # Found in review: fit accepted 2-10 ratings under y_range=(0, 6) without a word, while
    # fit_one_cycle refused them; no prediction can reach the ratings above 6.
    X, y = _ratings()
    with pytest.warns(UserWarning, match=r"y_range=\(0, 7\) leaves out .* of the ratings"):
        MatrixFactorization(**{**FAST, "epochs": 1}, y_range=(0, 7)).fit(X, 2 * y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MatrixFactorization(**{**FAST, "epochs": 1}).fit(X, 2 * y)  # "auto" covers every rating


def test_recommend_excludes_items_rated_in_a_continued_cycle(fitted, tmp_path):
    # Found in review: the seen pairs were built in fit only, so recommend kept suggesting the
    # items a user had just rated in fit_one_cycle.
    mf, X, y = fitted
    mf = clone(mf).fit(X, y)
    user = X["user"].iloc[0]
    new = [i for i in X["item"].unique() if i not in set(X.loc[X["user"] == user, "item"])][:3]
    assert set(new) <= set(mf.recommend(user, k=1000)["item"])
    mf.fit_one_cycle(pd.DataFrame({"user": user, "item": new}), pd.Series([3.0] * len(new)), epochs=1)
    assert not set(new) & set(mf.recommend(user, k=1000)["item"])
    from tabdl import load

    back = load(mf.save(tmp_path / "mf.tabdl"))
    assert not set(new) & set(back.recommend(user, k=1000)["item"])


def test_recommend_excludes_items_rated_by_users_the_model_has_no_code_for(fitted, tmp_path):
    # A user rarer than min_count, or new in a later cycle, is scored as the unknown user; the
    # seen pairs dropped every row of code 0, so recommend offered the items they had rated.
    mf, X, y = fitted
    rare = X["user"].max() + 1
    items = X["item"].unique()
    X2 = pd.concat([X, pd.DataFrame({"user": [rare], "item": [items[0]]})], ignore_index=True)
    mf = clone(mf).set_params(min_count=2).fit(X2, np.append(y, 4.0))
    assert mf._codes([rare], 0)[0] == 0
    assert items[0] not in set(mf.recommend(rare, k=1000)["item"])
    assert items[0] in set(mf.recommend(rare + 1, k=1000)["item"])  # a user who rated nothing
    newcomer = rare + 2
    mf.fit_one_cycle(pd.DataFrame({"user": [newcomer] * 2, "item": items[1:3]}), [3.0, 5.0], epochs=1)
    by_user = mf.recommend([rare, newcomer, "x"], k=1000).groupby("user")["item"].agg(set)
    assert items[0] not in by_user[rare] and not set(items[1:3]) & by_user[newcomer]
    assert set(items[:3]) <= by_user["x"]
    from tabdl import load

    back = load(mf.save(tmp_path / "mf.tabdl"))
    pd.testing.assert_frame_equal(back.recommend([rare, newcomer], k=1000), mf.recommend([rare, newcomer], k=1000))


def test_continued_training_of_a_plain_mse_model(fitted):
    # The last batch's penalty stayed on the model with its autograd graph (only the penalised
    # loss cleared it): continued training, which copies the model, raised.
    mf, X, y = fitted
    mf = clone(mf).set_params(reg=0.0, bias_reg=0.0).fit(X, y)
    before = mf.predict(X)
    mf.fit_one_cycle(X, y, epochs=1).fine_tune(X, y, epochs=1)
    assert not np.array_equal(mf.predict(X), before)
    assert np.array_equal(pickle.loads(pickle.dumps(mf)).predict(X), mf.predict(X))


def test_auto_batch_size_gives_small_rating_sets_enough_steps():
    # A fixed 4096 left 17k ratings 4 steps an epoch (validation RMSE 0.976 against 0.948 at
    # 1024); movielens' 90k training ratings keep the 4096 chosen on them.
    mf = MatrixFactorization()
    assert mf.batch_size == "auto"
    assert [mf._batch_size(n) for n in (90_003, 17_000, 4_250, 100)] == [4096, 1024, 256, 16]
    assert MatrixFactorization(batch_size=300)._batch_size(90_003) == 300
    from tabdl import TabularRegressor

    assert TabularRegressor()._batch_size(90_003) == 1024  # the tabular rule is its own (n/32, <= 1024)


def test_whole_number_ids_read_as_floats_come_back_as_ints(fitted):
    # An id column with a gap reads as float: ids came back as 1198.0 (object), unlike the
    # same ids without the gap.
    mf, X, y = fitted
    Xf = X.astype(float)
    Xf.loc[0, "item"] = np.nan
    mf_f = MatrixFactorization(**FAST).fit(Xf, y)
    assert mf_f.item_ids_.dtype == np.int64 and mf_f.user_ids_.dtype == np.int64
    assert mf_f.item_ids_.tolist() == mf.item_ids_.tolist()
    recs = mf_f.recommend(int(X["user"].iloc[1]), k=3)
    assert recs["item"].dtype == np.int64 and set(recs["item"]) <= set(mf.item_ids_.tolist())
    np.testing.assert_allclose(mf_f.predict(X.iloc[1:]), mf_f.predict(Xf.iloc[1:]))  # 7 and 7.0 meet
    # Ids with a fraction stay as they are.
    Xh = X.assign(item=X["item"] + 0.5)
    ids = MatrixFactorization(**FAST).fit(Xh, y).item_ids_
    assert ids.dtype == object and set(ids) == set(Xh["item"])


def test_an_id_spelled_two_ways_keeps_its_first_spelling():
    X = pd.DataFrame({"user": pd.Series([1, "1", 2, 2], dtype=object), "item": ["a", "b", "a", "b"]})
    mf = MatrixFactorization(**{**FAST, "epochs": 1}).fit(X, [1, 2, 3, 4])
    assert mf.user_ids_.tolist() == [1, 2] and mf.user_ids_.dtype == np.int64
    assert mf.user_factors_.loc[1].shape == (mf.n_factors,)


def test_ids_folded_whole_warn_with_the_mf_parameter(fitted):
    _, X, y = fitted
    with pytest.warns(UserWarning, match="min_count=1000") as caught:
        MatrixFactorization(**{**FAST, "epochs": 1}, min_count=1000).fit(X, y)
    assert not any("min_category_count" in str(w.message) or "dates" in str(w.message) for w in caught)


def test_recommend_keeps_uint64_ids_beyond_int64():
    # A list of users cast to int64 when all were ints: 2**63 + 5 overflowed ("Python int too large").
    rng = np.random.default_rng(0)
    big = np.uint64(2**63 + 5)
    X = pd.DataFrame({"user": np.array([big, 1] * 40, dtype=np.uint64), "item": np.tile([1, 2, 3, 4], 20)})
    mf = MatrixFactorization(**FAST).fit(X, rng.uniform(1, 5, len(X)))
    rec = mf.recommend([big, np.uint64(1)], k=2)
    assert rec["user"].tolist() == [big, big, 1, 1]
    assert mf.recommend([1, 2], k=1)["user"].dtype == np.int64  # ints that fit stay int64


def test_factor_encoder_reads_as_the_transformer_it_is(fitted):
    # Found in review: its tags said float64 preserved and no NaN / text / 1-D input, all of
    # which it takes; in a Pipeline n_features_in_ was 1 for a 2-column X; input_features was ignored.
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline

    mf, X, y = fitted
    enc = mf.user_encoder()
    tags = enc.__sklearn_tags__()
    assert tags.input_tags.allow_nan and tags.input_tags.string and tags.input_tags.one_d_array
    assert tags.transformer_tags.preserves_dtype == []
    assert enc.transform(pd.Series([X["user"].iloc[0], None])).dtype == np.float32
    pipe = make_pipeline(clone(enc), Ridge()).fit(X, y)
    assert pipe.n_features_in_ == 2 and list(pipe[0].feature_names_in_) == ["user", "item"]
    assert list(pipe[0].get_feature_names_out(["user", "item"])) == list(enc.get_feature_names_out())
    with pytest.raises(ValueError, match="input_features is not equal to feature_names_in_"):
        pipe[0].get_feature_names_out(["zzz", "item"])


def test_fine_tune_adds_its_ratings_to_the_correction_once():
    # Found in review: both phases of fine_tune refit the correction on the tables before them
    # plus (X, y), so the unfrozen phase counted X's ratings twice: a pair rated 1 at fit and 5 in
    # fine_tune's data was stored as 4.0 (fit_one_cycle: their mean, 3.0).
    X, y = _ratings(n_users=30, n_items=20, frac=0.5)
    A, yA = pd.concat([X.iloc[:150], pd.DataFrame({"user": [99], "item": [999]})]), np.r_[y.iloc[:150], 1.0]
    B, yB = pd.concat([X.iloc[150:], pd.DataFrame({"user": [99], "item": [999]})]), np.r_[y.iloc[150:], 5.0]

    def stored(mf):  # the rating behind the pair's residual: the factors' score plus the residual
        nb = mf.model_.neighbours
        pairs, res = nb.known_pairs()
        codes = mf.preprocessor_.transform(pd.DataFrame({"user": [99], "item": [999]}))[0]
        j = int(((pairs[:, 0] == codes[0, 0]) & (pairs[:, 1] == codes[0, 1])).nonzero()[0, 0])
        tables = {
            k: getattr(nb, k).clone() for k in ("pair_keys", "pair_residuals", "neighbour_items", "neighbour_weights")
        }
        nb.set_tables(None)
        score = mf._factor_scores(codes.long())[0]
        nb.set_tables(tables)
        return score + res[j]

    kw = {**FAST, "epochs": 2, "n_neighbors": 5, "min_count": 1}
    for how in ("fit_one_cycle", "fine_tune"):
        mf = MatrixFactorization(**kw).fit(A, yA)
        assert stored(mf) == pytest.approx(1.0, abs=1e-4)
        if how == "fit_one_cycle":
            mf.fit_one_cycle(B, yB, epochs=1)
        else:
            mf.fine_tune(B, yB, epochs=1, freeze_epochs=1)
        assert stored(mf) == pytest.approx(3.0, abs=1e-4), how
