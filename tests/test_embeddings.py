import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from tabdl import EntityEmbeddingEncoder, TabularClassifier, TabularRegressor
from tabdl.embeddings import UNKNOWN
from tabdl.estimators import _seed

ROOT = Path(__file__).resolve().parent.parent
FAST = {"epochs": 2, "layers": (16,), "batch_size": 32}


def make_frame(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "c": rng.choice(["x", "y", "z", "w"], size=n),
            "d": rng.integers(0, 6, size=n),
        }
    )
    y = X["a"].to_numpy() + np.where(X["c"] == "y", 2.0, 0.0) + 0.3 * X["d"].to_numpy()
    return X, y


@pytest.fixture(scope="module")
def fitted():
    X, y = make_frame()
    reg = TabularRegressor(random_state=0, cat_features=["c", "d"], **FAST).fit(X, y)
    return reg, reg.embedding_encoder(), X, y


def test_round_trip_equals_net_weights(fitted):
    reg, enc, X, _ = fitted
    raw = reg.embedding_encoder(axes="net")
    codes = reg.preprocessor_.transform(X)[0].numpy()
    out, out_raw = enc.transform(X), raw.transform(X)
    start = 0
    for j, table in enumerate(reg.model_.embeds.tables):
        w = table.weight.detach().numpy()
        np.testing.assert_array_equal(enc.tables_[j], w)  # tables_ hold the raw weights, whatever axes
        np.testing.assert_array_equal(raw.tables_[j], w)
        np.testing.assert_array_equal(out_raw[:, start : start + w.shape[1]], w[codes[:, j]])
        # The default export: centred and rotated onto the table's principal axes.
        c, p = enc.centers_[j], enc.components_[j]
        np.testing.assert_allclose(out[:, start : start + w.shape[1]], (w[codes[:, j]] - c) @ p, atol=1e-6)
        start += w.shape[1]
    assert raw.centers_ is None and raw.components_ is None
    for o in (out, out_raw):
        np.testing.assert_allclose(o[:, start], X["a"].to_numpy(), rtol=1e-6)  # passthrough, raw
    assert enc.vocabs_ == reg.preprocessor_.vocabs_
    assert enc.cat_features_ == ["c", "d"] and enc.cont_features_ == ["a"]


def test_principal_axes_keep_distances_and_order_variance(fitted):
    reg, enc, X, _ = fitted
    for j, (w, p) in enumerate(zip(enc.tables_, enc.components_)):
        np.testing.assert_allclose(p.T @ p, np.eye(p.shape[1]), atol=1e-5)  # a rotation: orthonormal axes
        v = enc.embeddings_[["c", "d"][j]].to_numpy()
        # Same pairwise distances between categories as the net's vectors: nothing lost.
        dist = lambda a: np.linalg.norm(a[:, None] - a[None], axis=-1)  # noqa: E731
        np.testing.assert_allclose(dist(v), dist(w), atol=1e-5)
        np.testing.assert_allclose(v.mean(axis=0), 0, atol=1e-6)  # centred
        var = v.var(axis=0)
        assert (np.diff(var) <= 1e-7).all() and var[0] > var[-1]  # axis 0 carries the most
    # n_components cuts trailing axes: an int keeps that many, a float enough for that variance share.
    one = reg.embedding_encoder(n_components=1)
    assert [t.shape[1] for t in one.embeddings_.values()] == [1, 1]
    np.testing.assert_allclose(one.transform(X)[:, 0], enc.transform(X)[:, 0], atol=1e-6)
    assert list(one.get_feature_names_out()) == ["c_emb0", "d_emb0", "a"]
    v = enc.embeddings_["d"].to_numpy()
    share = np.cumsum(v.var(axis=0)) / v.var(axis=0).sum()
    half = reg.embedding_encoder(n_components=0.5).embeddings_["d"].shape[1]
    assert half == np.searchsorted(share, 0.5) + 1 < v.shape[1]
    assert reg.embedding_encoder(n_components=1.0).embeddings_["d"].shape[1] <= v.shape[1]


def test_unknown_and_missing_map_to_unknown_vector(fitted):
    _, enc, X, _ = fitted
    X_new = pd.DataFrame({"a": [0.0, 1.0, np.nan], "c": ["never seen", None, "x"], "d": [99, np.nan, 2]})
    out = enc.transform(X_new)
    wc, wd = (e.to_numpy() for e in enc.embeddings_.values())
    np.testing.assert_array_equal(out[0, : wc.shape[1]], wc[0])
    np.testing.assert_array_equal(out[1, : wc.shape[1]], wc[0])
    np.testing.assert_array_equal(out[0, wc.shape[1] : wc.shape[1] + wd.shape[1]], wd[0])
    np.testing.assert_array_equal(out[1, wc.shape[1] : wc.shape[1] + wd.shape[1]], wd[0])
    # Known values: "x" and 2.0 (a float for an int column meets its key "2").
    np.testing.assert_array_equal(out[2, : wc.shape[1]], wc[enc.vocabs_[0].index("x") + 1])
    np.testing.assert_array_equal(out[2, wc.shape[1] : wc.shape[1] + wd.shape[1]], wd[enc.vocabs_[1].index("2") + 1])
    assert np.isnan(out[2, -1])  # a missing continuous value passes through as NaN


def test_int_names_in_another_order_are_refused():
    # scikit-learn checks string names only: int names in another order were read by position
    # (the categories then all unseen), silently.
    X, y = make_frame()
    X.columns = [0, 1, 2]
    enc = EntityEmbeddingEncoder(cat_features=[1, 2], estimator_params=FAST, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"another order: \[2, 1, 0\], fitted as \[0, 1, 2\]"):
        enc.transform(X[[2, 1, 0]])
    # Arrays go by position, also for an encoder fitted on int names out of order: an array's
    # column numbers are not names.
    enc = EntityEmbeddingEncoder(cat_features=[1, 2], estimator_params=FAST, random_state=0).fit(X[[2, 0, 1]], y)
    np.testing.assert_array_equal(enc.transform(X[[2, 0, 1]].to_numpy(dtype=object)), enc.transform(X[[2, 0, 1]]))


def test_pandas_output_names_and_remainder(fitted):
    _, enc, X, _ = fitted
    enc = clone(enc)
    enc.__dict__.update(fitted[1].__dict__)  # a fitted copy, so set_output does not touch the fixture
    enc.set_output(transform="pandas")
    dims = [e.shape[1] for e in enc.embeddings_.values()]
    expected = [f"c_emb{i}" for i in range(dims[0])] + [f"d_emb{i}" for i in range(dims[1])] + ["a"]
    X_idx = X.set_axis(np.arange(len(X)) + 1000)
    out = enc.transform(X_idx)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == expected == list(enc.get_feature_names_out())
    assert out.index.equals(X_idx.index)
    with pytest.raises(ValueError, match="input_features should have length equal to number of features"):
        enc.get_feature_names_out(["a"])  # scikit-learn's wording, as its checks expect
    enc.set_params(remainder="drop")
    assert list(enc.transform(X).columns) == expected[:-1]


def test_embeddings_inspection(fitted):
    _, enc, _, _ = fitted
    emb = enc.embeddings_
    assert set(emb) == {"c", "d"}
    assert list(emb["c"].index) == [UNKNOWN, "w", "x", "y", "z"]
    X_c = pd.DataFrame({"a": 0.0, "c": [None, "w", "x", "y", "z"], "d": 0})
    np.testing.assert_array_equal(emb["c"].to_numpy(), enc.transform(X_c)[:, : emb["c"].shape[1]])
    sims = enc.most_similar("d", 3, k=2)  # the int 3 meets its key "3"
    assert len(sims) == 2 and "3" not in sims.index and UNKNOWN not in sims.index
    assert sims.is_monotonic_decreasing and (sims <= 1 + 1e-6).all()
    w = enc.embeddings_["d"].drop(UNKNOWN)
    unit = w.to_numpy() / np.linalg.norm(w.to_numpy(), axis=1, keepdims=True)
    cos = pd.Series(unit @ unit[w.index.get_loc("3")], index=w.index).drop("3")
    assert sims.index[0] == cos.idxmax()
    with pytest.raises(ValueError, match="not in the vocabulary of 'c'"):
        enc.most_similar("c", "nope")
    with pytest.raises(ValueError, match="not a categorical column"):
        enc.most_similar("a", 1.0)
    for k in (-1, 0, 2.7, None, True):  # was: an empty answer, k=2, a TypeError from int()
        with pytest.raises(ValueError, match="k must be an int > 0"):
            enc.most_similar("d", 3, k=k)
    pd.testing.assert_series_equal(enc.most_similar("d", 1), enc.most_similar("d", True))  # as transform looks up
    assert enc.most_similar("d", UNKNOWN).index.tolist() and UNKNOWN not in enc.most_similar("d", UNKNOWN).index


def test_a_category_named_like_the_unknown_row_is_its_own(fitted):
    # most_similar dropped a real "<unknown>" category as the unknown row, and answered for the
    # unknown vector when asked for it.
    _, _, X, y = fitted
    X = X.assign(c=X["c"].replace({"w": UNKNOWN}))
    enc = TabularRegressor(random_state=0, cat_features=["c", "d"], **FAST).fit(X, y).embedding_encoder(axes="net")
    table = enc.embeddings_["c"]
    assert table.index.tolist() == [UNKNOWN, UNKNOWN, "x", "y", "z"]
    assert set(enc.most_similar("c", "x", k=10).index) == {UNKNOWN, "y", "z"}  # the real one
    real = table.iloc[1].to_numpy()
    unit = table.to_numpy() / np.linalg.norm(table.to_numpy(), axis=1, keepdims=True)
    want = pd.Series(unit[2:] @ (real / np.linalg.norm(real)), index=table.index[2:]).sort_values(ascending=False)
    np.testing.assert_allclose(enc.most_similar("c", UNKNOWN, k=10).to_numpy(), want.to_numpy(), rtol=1e-5)


def test_plot_embedding_returns_axes(fitted):
    import matplotlib

    matplotlib.use("Agg")
    ax = fitted[1].plot_embedding("c")
    assert len(ax.texts) == 5  # the four categories and the unknown row, labelled
    import matplotlib.pyplot as plt

    plt.close("all")


def test_transform_and_unpickle_do_not_import_torch(fitted, tmp_path):
    _, enc, X, _ = fitted
    path = tmp_path / "enc.pkl"
    path.write_bytes(pickle.dumps((enc, X, enc.transform(X))))
    code = (
        "import pickle, sys\n"
        "import numpy as np\n"
        f"enc, X, expected = pickle.loads(open({str(path)!r}, 'rb').read())\n"
        "np.testing.assert_array_equal(enc.transform(X), expected)\n"
        "enc.set_output(transform='pandas'); enc.transform(X.head(1)); enc.most_similar('c', 'x')\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "import tabdl, tabdl.embeddings\n"
        "assert 'torch' not in sys.modules, 'import tabdl pulled torch'\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_pickle_is_small(fitted):
    _, enc, _, _ = fitted
    blob = pickle.dumps(enc)
    table_bytes = sum(t.nbytes for t in enc.tables_)
    assert b"torch" not in blob
    assert len(blob) < table_bytes + 4000  # tables plus vocabularies and params, nothing else
    back = pickle.loads(blob)
    np.testing.assert_array_equal(back.transform(fitted[2]), enc.transform(fitted[2]))


def test_standalone_fit_infers_task():
    X, y = make_frame(n=200)
    # min_category_count 20 keeps this small frame's categories (the default 100 would fold them all).
    enc = EntityEmbeddingEncoder(
        cat_features=["c", "d"], min_category_count=20, estimator_params=FAST, random_state=0
    ).fit(X, y)
    assert enc.task_ == "regression"
    labels = np.where(y > np.median(y), "hi", "lo")
    enc_c = EntityEmbeddingEncoder(estimator_params=FAST, random_state=0).fit(X, labels)
    assert enc_c.task_ == "classification"
    assert enc_c.cat_features_ == ["c"]  # int column d is continuous unless named
    # Same seed, same data: the standalone encoder holds the same tables as a net fitted directly.
    reg = TabularRegressor(random_state=0, cat_features=["c", "d"], min_category_count=20, **FAST).fit(X, y)
    for a, b in zip(enc.tables_, reg.embedding_encoder().tables_):
        np.testing.assert_array_equal(a, b)


def test_from_estimator_parameters_refit_the_same_net(fitted):
    reg, enc, X, y = fitted
    assert enc.task == "regression" and enc.cat_features == ["c", "d"] and enc.random_state == 0
    assert enc.estimator_params["epochs"] == FAST["epochs"]
    assert enc.estimator_params["n_bags"] == 1  # a bag exports its first net: the refit trains only it
    refit = clone(enc).fit(X, y)
    for a, b in zip(refit.tables_, enc.tables_):
        np.testing.assert_array_equal(a, b)
    clf = TabularClassifier(random_state=0, **FAST).fit(X, y > 0)
    assert clf.embedding_encoder().task == "classification"


@pytest.mark.parametrize(
    "params, match",
    [
        ({"remainder": "keep"}, "remainder must be"),
        ({"task": "ranking"}, "task must be"),
        ({"estimator_params": {"random_state": 1}}, "must not set"),
        ({"estimator_params": {"min_category_count": 5}}, "must not set"),
        ({"estimator_params": {"no_such_param": 1}}, "no_such_param"),
        ({"cv": 1}, "cv must be"),
        # Found in review: accepted by fit, refused by fit_transform only after the full net trained.
        ({"cv": True}, "cv must be"),
        ({"cv": 3.0}, "cv must be"),
        ({"cv": "5"}, "cv must be"),
        ({"dtype": np.int32}, "dtype must be a float"),
        ({"axes": "pca"}, "axes must be"),
        ({"n_components": 0}, "n_components must be"),
        ({"n_components": 1.5}, "n_components must be"),
        ({"n_components": True}, "n_components must be"),
        ({"axes": "net", "n_components": 2}, "needs axes='principal'"),
        ({"cat_features": ["nope"]}, "nope"),
    ],
)
def test_bad_params_raise(params, match):
    X, y = make_frame(n=50)
    with pytest.raises(ValueError, match=match):
        EntityEmbeddingEncoder(**params).fit(X, y)


def test_rare_categories_fold_into_the_unknown_vector():
    X, y = make_frame(n=200)
    X.loc[:9, "c"] = "rare"  # 10 rows: kept by the estimators' 3, folded by the encoder's 100
    enc = EntityEmbeddingEncoder(cat_features=["c"], estimator_params=FAST, random_state=0).fit(X, y)
    assert "rare" not in enc.vocabs_[0]
    unknown = enc.embeddings_["c"].loc[UNKNOWN].to_numpy()
    np.testing.assert_array_equal(enc.transform(X.head(1))[0, : len(unknown)], unknown)
    kept = EntityEmbeddingEncoder(cat_features=["c"], min_category_count=3, estimator_params=FAST, random_state=0)
    assert "rare" in kept.fit(X, y).vocabs_[0]


def test_cannot_infer_task_from_multilabel():
    X, _ = make_frame(n=50)
    with pytest.raises(ValueError, match="cannot infer the task"):
        EntityEmbeddingEncoder().fit(X, np.eye(2, dtype=int)[np.arange(50) % 2])


@pytest.mark.parametrize(
    "missing",
    [
        pd.Series(["a", None, "b", "a"] * 10, dtype=object),
        pd.Series(["a", None, "b", "a"] * 10, dtype="str"),
        pd.Series([1, None, 0, 1] * 10, dtype="Int64"),
    ],
    ids=["object", "str", "Int64"],
)
def test_a_missing_label_is_named_as_the_estimators_name_it(missing):
    # Found in review: task="auto" met it in type_of_target first, "Unknown label type for y:"
    # followed by the whole y printed, or "Input y contains NaN" after a RuntimeWarning.
    X, _ = make_frame(n=40)
    with pytest.raises(ValueError, match="^y contains NaN; drop those rows"):
        EntityEmbeddingEncoder(estimator_params=FAST).fit(X, missing)


def test_a_passthrough_value_beyond_the_output_dtype_is_refused_by_name(fitted):
    # Found in review: float32 output wrote 1e300 as inf, with only numpy's "overflow encountered
    # in cast" RuntimeWarning, while an inf in X is refused naming its column.
    reg, enc, X, _ = fitted
    huge = X.assign(a=[np.nan, 1e300, *X["a"][2:]])  # behind a NaN, which compares as no number
    with pytest.raises(ValueError, match="column 'a' holds 1e\\+300, beyond .* float32.*dtype=np.float64"):
        enc.transform(huge)
    assert reg.embedding_encoder(dtype=np.float64).transform(huge)[1, -1] == 1e300


def test_pipelines_with_lightgbm_and_random_forest():
    from lightgbm import LGBMRegressor

    X, y = make_frame(n=300)
    enc = EntityEmbeddingEncoder(cat_features=["c", "d"], min_category_count=20, estimator_params=FAST, random_state=0)
    lgbm = make_pipeline(clone(enc), LGBMRegressor(n_estimators=30, min_child_samples=5, verbose=-1))
    lgbm.fit(X, y)
    assert lgbm.score(X, y) > 0.5
    rf = make_pipeline(clone(enc), RandomForestRegressor(n_estimators=20, random_state=0)).fit(X, y)
    assert rf.predict(X.head(7)).shape == (7,)
    labels = np.where(y > np.median(y), "hi", "lo")
    scores = cross_val_score(
        make_pipeline(clone(enc), RandomForestClassifier(n_estimators=20, random_state=0)), X, labels, cv=2
    )
    assert scores.shape == (2,) and scores.min() > 0.6
    search = GridSearchCV(lgbm, {"entityembeddingencoder__remainder": ["passthrough", "drop"]}, cv=2).fit(X, y)
    # Without the continuous column "a" the target is far harder to predict.
    assert search.best_params_ == {"entityembeddingencoder__remainder": "passthrough"}


def test_cv_gives_out_of_fold_vectors():
    X, y = make_frame(n=240)
    X.loc[:29, "c"] = "q"  # "q" lives only in the first 30 rows ...
    X.loc[30:35, "c"] = None
    first = np.arange(60)  # ... which all sit in the held-out part of the first fold
    splits = [(np.arange(60, 240), first), (first, np.arange(60, 240))]
    # The net's own axes first: that is where the fold nets are rotated onto the full net.
    enc = EntityEmbeddingEncoder(
        cat_features=["c", "d"], min_category_count=20, estimator_params=FAST, random_state=0, cv=splits, axes="net"
    )
    oof = enc.fit_transform(X, y)
    full = enc.transform(X)
    width_c = enc.tables_[0].shape[1]
    # The encoder itself is the net fitted on all rows, identical to a plain fit.
    plain = clone(enc).set_params(cv=None).fit(X, y)
    for a, b in zip(enc.tables_, plain.tables_):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(plain.fit_transform(X, y), full)
    # In the full net "q" has its own vector; out of fold it is unseen, so it gets the fold
    # net's unknown vector, the one that missing values in the same fold get.
    assert "q" in enc.vocabs_[0]
    assert not np.allclose(full[0, :width_c], full[30, :width_c])
    np.testing.assert_allclose(oof[0, :width_c], oof[30, :width_c])
    assert not np.allclose(oof[:, :-1], full[:, :-1])
    np.testing.assert_array_equal(oof[:, -1], full[:, -1])  # continuous columns are not folded
    # Rotated onto the full net's axes: the fold vectors stay close to the full ones.
    known = X["c"].isin(["x", "y", "z", "w"]).to_numpy()
    err = np.abs(oof[known, :width_c] - full[known, :width_c]).mean()
    assert err < np.abs(full[known, :width_c]).mean()
    # Principal axes: the same fold vectors, then onto the full net's principal axes.
    pca = clone(enc).set_params(axes="principal", n_components=2)
    oof_p = pca.fit_transform(X, y)
    assert oof_p.shape == (len(X), 2 + 2 + 1)
    np.testing.assert_allclose(oof_p[:, :2], (oof[:, :width_c] - pca.centers_[0]) @ pca.components_[0], atol=1e-5)
    np.testing.assert_array_equal(oof_p[:, -1], full[:, -1])


def test_cv_fold_nets_keep_the_encoders_categories():
    # Found in review: each fold net re-applied min_category_count to its fewer rows, so a
    # category the encoder kept (120 rows of 600) got the fold's unknown vector on every
    # training row out of fold, and its own vector only at transform.
    rng = np.random.default_rng(0)
    c = np.array(["p"] * 220 + ["q"] * 220 + ["s"] * 120 + [None] * 40, dtype=object)
    X = pd.DataFrame({"c": rng.permutation(c), "a": rng.normal(size=600)})
    y = X["a"].to_numpy() + (X["c"] == "s").to_numpy()
    enc = EntityEmbeddingEncoder(estimator_params=FAST, random_state=0, cv=5, axes="net")
    oof = enc.fit_transform(X, y)
    assert enc.vocabs_[0] == ["p", "q", "s"]
    width = enc.tables_[0].shape[1]
    for _, test in KFold(5, shuffle=True, random_state=_seed(0)).split(X):
        part, vectors = X["c"].to_numpy()[test], oof[test, :width]
        s, missing = vectors[part == "s"], vectors[pd.isna(part)]
        np.testing.assert_allclose(s, np.broadcast_to(s[0], s.shape))  # one vector per category and fold
        assert not np.allclose(s[0], missing[0])  # its own, not the fold's unknown vector


@parametrize_with_checks(
    [EntityEmbeddingEncoder(estimator_params={"epochs": 1, "layers": (8,)}, random_state=0)],
    expected_failed_checks=lambda est: {},
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_a_column_folded_whole_warns_and_is_constant():
    X, y = make_frame(n=300)  # "c" and "d": 50-75 rows per category, all under the default 100
    enc = EntityEmbeddingEncoder(cat_features=["c", "d"], estimator_params=FAST, random_state=0)
    with pytest.warns(UserWarning, match="min_category_count=100"):
        enc.fit(X, y)
    # Found in review: fit_transform's warning named scikit-learn's set_output wrapper, not this line.
    with pytest.warns(UserWarning, match="min_category_count=100") as rec:
        clone(enc).fit_transform(X, y)
    assert rec[0].filename == __file__
    out = enc.transform(X)
    assert enc.vocabs_ == [[], []]
    assert np.ptp(out[:, :-1], axis=0).max() == 0.0  # every embedding column constant


def _as_written_before_principal_axes(state: dict) -> dict:
    """An encoder's state as tabdl wrote it before the ``axes`` parameter existed."""
    return {k: v for k, v in state.items() if k not in ("axes", "n_components", "centers_", "components_")}


def test_encoders_pickled_or_saved_before_principal_axes_keep_the_net_coordinates(fitted):
    from tabdl import io

    _, _, X, _ = fitted
    raw = fitted[0].embedding_encoder(axes="net")
    old = EntityEmbeddingEncoder.__new__(EntityEmbeddingEncoder)
    old.__setstate__(_as_written_before_principal_axes(raw.__getstate__()))
    assert old.get_params()["axes"] == "net" and clone(old).axes == "net"
    np.testing.assert_array_equal(old.transform(X), raw.transform(X))

    state, tensors = io._encoder_to_state(raw)
    state = {
        **state,
        "params": {k: v for k, v in state["params"].items() if k not in ("axes", "n_components")},
        "attrs": _as_written_before_principal_axes(state["attrs"]),
    }
    loaded = io._encoder_from_state(EntityEmbeddingEncoder, state, tensors)
    assert loaded.axes == "net"
    np.testing.assert_array_equal(loaded.transform(X), raw.transform(X))


def test_transform_takes_one_row_as_a_series(fitted):
    # Found in review: the estimators read df.iloc[i] as one row, the encoder reported a width
    # error ("X has 1 features") instead.
    _, enc, X, _ = fitted
    np.testing.assert_array_equal(enc.transform(X.iloc[3]), enc.transform(X.iloc[[3]]))


def test_one_row_as_a_series_with_pandas_output(fitted):
    # Found in review: scikit-learn's pandas wrapper took the Series' index (the column names)
    # as the output's row index: "Shape of passed values is (1, 4), indices imply (3, 4)".
    _, enc, X, _ = fitted
    enc = pickle.loads(pickle.dumps(enc)).set_output(transform="pandas")  # the fixture's stays default
    out = enc.transform(X.iloc[3])
    expected = enc.transform(X.iloc[[3]])
    pd.testing.assert_frame_equal(out, expected)
    assert out.index.tolist() == [3]


def test_axes_beyond_a_tables_rank_export_exact_zeros():
    # A 2-category column gets a 3-row table in 3 dims: centred, it spans 2 axes at most, and
    # the third carried only rounding (~1e-9 per category), a column a tree may still split on.
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"flag": rng.choice(["no", "yes"], size=400), "a": rng.normal(size=400)})
    y = X["a"].to_numpy() + (X["flag"] == "yes")
    enc = EntityEmbeddingEncoder(
        cat_features=["flag"], min_category_count=3, estimator_params=FAST, random_state=0
    ).fit(X, y)
    w, p = enc.tables_[0], enc.components_[0]
    assert w.shape == (3, 3)
    rank = np.linalg.matrix_rank(w - w.mean(axis=0), tol=1e-5)
    assert rank == 2 and (p[:, rank:] == 0).all()
    np.testing.assert_allclose(p[:, :rank].T @ p[:, :rank], np.eye(rank), atol=1e-5)
    out = enc.transform(X)
    assert (out[:, rank:3] == 0).all() and np.ptp(out[:, :rank], axis=0).min() > 0
    v = enc.embeddings_["flag"].to_numpy()
    dist = lambda a: np.linalg.norm(a[:, None] - a[None], axis=-1)  # noqa: E731
    np.testing.assert_allclose(dist(v), dist(w), atol=1e-5)  # nothing lost


def test_cv_fold_nets_do_not_repeat_the_folded_column_warning():
    import warnings

    X, y = make_frame()
    X = X.assign(id=[f"r{i}" for i in range(len(X))])
    enc = EntityEmbeddingEncoder(cat_features=["c", "d", "id"], estimator_params=FAST, cv=3, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        enc.fit_transform(X, y)
    assert sum("every category of" in str(w.message) and "'id'" in str(w.message) for w in caught) == 1


def test_passthrough_reads_date_text_in_a_column_that_held_datetimes(tmp_path):
    # The net reads ISO 8601 text (a CSV's dates) in a date column; the encoder's passthrough
    # refused it ("holds non-numeric values"), so a pipeline fitted on datetimes broke on a CSV.
    from tabdl import io

    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "when": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, 200), "D"),
            "c": rng.choice(["x", "y", "z"], 200),
            "a": rng.normal(size=200),
        }
    )
    y = X["a"].to_numpy() + (X["c"] == "y")
    enc = EntityEmbeddingEncoder(cat_features=["c"], estimator_params=FAST, random_state=0).fit(X, y)
    assert enc.date_features_ == ["when"]
    text = X.assign(when=X["when"].dt.strftime("%Y-%m-%d"))
    np.testing.assert_array_equal(enc.transform(text), enc.transform(X))
    enc.save(tmp_path / "enc.tabdl")
    np.testing.assert_array_equal(io.load(tmp_path / "enc.tabdl").transform(text), enc.transform(X))
    with pytest.raises(ValueError, match="'when' held datetimes.*'soon'"):
        enc.transform(text.assign(when=["soon", *text["when"][1:]]))
    # A column of numbers is not read as dates.
    with pytest.raises(ValueError, match="'a' holds non-numeric"):
        enc.transform(text.assign(a="2020-01-01"))


def test_a_grid_search_reaches_the_inner_nets_parameters():
    # estimator_params is a plain dict: set_params(estimator_params__epochs=...) failed with an
    # AttributeError ('dict' object has no attribute 'set_params').
    from lightgbm import LGBMRegressor
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline

    enc = EntityEmbeddingEncoder(estimator_params={"layers": (8,), "epochs": 1}, min_category_count=1, random_state=0)
    other = clone(enc).set_params(estimator_params__epochs=2, estimator_params__dropout=0.1)
    assert other.estimator_params == {"layers": (8,), "epochs": 2, "dropout": 0.1}
    assert enc.estimator_params == {"layers": (8,), "epochs": 1}  # the original's dict is untouched
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"c": rng.choice(list("abcd"), 120), "a": rng.normal(size=120)})
    y = X["a"] + (X["c"] == "a")
    pipe = Pipeline([("enc", enc), ("gbm", LGBMRegressor(n_estimators=5, verbose=-1))])
    search = GridSearchCV(pipe, {"enc__estimator_params__epochs": [1, 2]}, cv=2).fit(X, y)
    assert search.best_estimator_["enc"].estimator_params["epochs"] in (1, 2)
    assert search.best_estimator_["enc"].estimator_params["layers"] == (8,)
