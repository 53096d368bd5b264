import io
import json
import os
import pickle
import threading
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import torch

import tabdl
from tabdl import TabularClassifier, TabularRegressor
from tabdl.io import FORMAT_VERSION, decode, encode

FAST = dict(epochs=2, layers=(16,), random_state=0)


def _frame(n=120, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    a[::7] = np.nan
    return pd.DataFrame(
        {
            "a": a,
            "n": rng.integers(0, 5, size=n),
            "s": pd.Series(rng.choice(["x", "y", "z", None], size=n), dtype="str"),
            "b": rng.random(n) > 0.5,
        }
    )


def _roundtrip(est, tmp_path):
    path = est.save(tmp_path / "m.tabdl")
    return tabdl.load(path)


def _assert_same_fitted(a, b):
    assert type(a) is type(b)
    assert a.get_params() == b.get_params()
    np.testing.assert_array_equal(a.feature_names_in_, b.feature_names_in_)
    assert a.n_features_in_ == b.n_features_in_
    pd.testing.assert_frame_equal(a.history_, b.history_)
    assert a.preprocessor_.to_dict() == b.preprocessor_.to_dict()
    assert a.model_config_ == b.model_config_


# >>> every registered model kind: (fitted model, rows to predict on, outputs to compare)
def _tabular_regressor():
    X = _frame()
    return TabularRegressor(**FAST).fit(X, np.nan_to_num(X["a"].to_numpy())), X, ["predict"]


def _tabular_classifier():
    X = _frame()
    return TabularClassifier(**FAST).fit(X, np.arange(len(X)) % 3), X, ["predict_proba", "predict"]


def _imbalanced_classifier(n_classes=2):
    X = _frame(200)
    y = np.where(np.arange(len(X)) % 5 == 0, 1, 0) + (np.arange(len(X)) % 7 == 0) * (n_classes - 2)
    params = dict(
        sampling="oversample",
        class_weight="balanced",
        threshold="auto",
        metrics=["balanced_accuracy"],
    )
    clf = TabularClassifier(**params, **FAST).fit(X, y)
    assert clf.threshold_ is not None or clf.class_scale_ is not None
    return clf, X, ["predict_proba", "predict"]


def _ensemble_regressor():
    X = _frame()
    reg = TabularRegressor(n_members=2, num_embeddings="piecewise", **FAST)
    return reg.fit(X, np.nan_to_num(X["a"].to_numpy())), X, ["predict"]


def _matrix_factorization(kind="dot"):
    from tabdl.collab import MatrixFactorization

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"user": rng.integers(0, 15, 200), "item": [f"m{i}" for i in rng.integers(0, 10, 200)]})
    y = rng.integers(1, 6, 200).astype(float)
    mf = MatrixFactorization(kind=kind, n_factors=4, epochs=2, random_state=0).fit(X, y)
    return mf, pd.concat([X, pd.DataFrame({"user": [-1], "item": ["unseen"]})]), ["predict"]


def _entity_embedding_encoder(standalone=True):
    from tabdl.embeddings import EntityEmbeddingEncoder

    X = _frame()
    y = np.nan_to_num(X["a"].to_numpy())
    if standalone:
        params = {"epochs": 2, "layers": (8,), "lr": slice(1e-3, 1e-2)}
        enc = EntityEmbeddingEncoder(estimator_params=params, dtype=np.float64, random_state=0).fit(X, y)
    else:
        enc = TabularRegressor(**FAST).fit(X, y).embedding_encoder()
    X_new = _frame(30, seed=2).assign(s=["unseen", *_frame(30, seed=2)["s"][1:]])
    return enc, X_new, ["transform", "get_feature_names_out"]


ROUND_TRIPS = {
    "EntityEmbeddingEncoder": [_entity_embedding_encoder, lambda: _entity_embedding_encoder(False)],
    "TabularRegressor": [_tabular_regressor, _ensemble_regressor],
    "TabularClassifier": [
        _tabular_classifier,
        _imbalanced_classifier,
        lambda: _imbalanced_classifier(3),
    ],
    "MatrixFactorization": [_matrix_factorization, lambda: _matrix_factorization("nn")],
}


@pytest.mark.parametrize("name", sorted(tabdl.io._REGISTRY))
def test_every_registered_kind_round_trips_bit_identically(name, tmp_path):
    assert name in ROUND_TRIPS, f"{name} is registered in tabdl.io: add a round-trip factory here"
    for make in ROUND_TRIPS[name]:
        model, X, methods = make()
        new = _roundtrip(model, tmp_path)
        assert type(new) is type(model)
        assert new.get_params() == model.get_params()
        for m in methods:
            args = () if m == "get_feature_names_out" else (X,)
            a, b = getattr(model, m)(*args), getattr(new, m)(*args)
            assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), m
        for k in vars(model):  # every fitted attribute came back
            if k.endswith("_") and not k.startswith("_"):
                assert hasattr(new, k), k


def test_encoder_keeps_its_pandas_output_setting(tmp_path):
    # set_output survived pickle but not save/load: transform gave numpy after loading.
    enc, X, _ = _entity_embedding_encoder()
    enc.set_output(transform="pandas")
    new = _roundtrip(enc, tmp_path)
    pd.testing.assert_frame_equal(new.transform(X), enc.transform(X))
    assert type(_roundtrip(_entity_embedding_encoder()[0], tmp_path).transform(X)) is np.ndarray


def test_load_leaves_the_global_rng_alone(tmp_path):
    model, _, _ = _tabular_classifier()
    path = model.save(tmp_path / "m.tabdl")
    state = torch.random.get_rng_state()
    tabdl.load(path)
    assert torch.equal(state, torch.random.get_rng_state())


def test_regressor_roundtrip_bit_identical(tmp_path):
    X = _frame()
    y = np.nan_to_num(X["a"].to_numpy()) * 2 + X["n"].to_numpy()
    reg = TabularRegressor(lr=slice(1e-3, 1e-2), **FAST).fit(X, y)
    new = _roundtrip(reg, tmp_path)
    _assert_same_fitted(reg, new)
    for attr in ("y_mean_", "y_std_", "y_min_", "y_max_"):
        np.testing.assert_array_equal(getattr(reg, attr), getattr(new, attr))
    X_test = _frame(50, seed=1)
    assert np.array_equal(reg.predict(X_test), new.predict(X_test))
    one = X_test.iloc[:1]  # the lean one-row path
    assert np.array_equal(reg.predict(one), new.predict(one))
    assert new.get_params()["lr"] == slice(1e-3, 1e-2)


def test_regressor_multi_output_and_y_range(tmp_path):
    X = _frame()
    y = np.c_[np.arange(len(X)) % 3, np.arange(len(X)) % 5].astype(float)
    reg = TabularRegressor(**FAST).fit(X, y)
    assert np.array_equal(reg.predict(X), _roundtrip(reg, tmp_path).predict(X))
    reg = TabularRegressor(y_range=(0.0, 3.0), **FAST).fit(X, y[:, 0])
    new = _roundtrip(reg, tmp_path)
    assert new.y_range == (0.0, 3.0)
    assert np.array_equal(reg.predict(X), new.predict(X))


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["no", "yes"]),
        np.array([3, 7, 11]),
        np.array([False, True]),
        np.array(["a", "b", "c"], dtype=object),
        # Found in review: saved, then refused at load (numpy read the mix of ints as float64)
        np.array([0, 2**63 + 5], dtype=np.uint64),
    ],
)
def test_classifier_roundtrip_keeps_class_order_and_dtype(tmp_path, labels):
    X = _frame()
    y = labels[np.arange(len(X)) % len(labels)]
    clf = TabularClassifier(metrics=["accuracy"], lr=slice(1e-3, 1e-2), **FAST).fit(X, y)
    new = _roundtrip(clf, tmp_path)
    _assert_same_fitted(clf, new)
    assert new.get_params()["lr"] == slice(1e-3, 1e-2)
    assert new.classes_.dtype == clf.classes_.dtype
    np.testing.assert_array_equal(new.classes_, clf.classes_)
    assert np.array_equal(clf.predict_proba(X), new.predict_proba(X))
    np.testing.assert_array_equal(clf.predict(X), new.predict(X))


def test_int_column_names_and_emb_sizes_dict(tmp_path):
    X = _frame().to_numpy(dtype=object)
    X = pd.DataFrame(X).astype({0: float, 1: int})
    y = np.arange(len(X)) % 2
    clf = TabularClassifier(cat_features=[2, 3], emb_sizes={2: 3}, **FAST).fit(X, y)
    new = _roundtrip(clf, tmp_path)
    assert new.get_params()["emb_sizes"] == {2: 3}
    assert not hasattr(new, "feature_names_in_")
    assert np.array_equal(clf.predict_proba(X), new.predict_proba(X))


def test_loaded_model_keeps_training(tmp_path):
    X = _frame()
    y = np.arange(len(X)) % 2
    new = _roundtrip(TabularClassifier(**FAST).fit(X, y), tmp_path)
    new.fit_one_cycle(X, y, epochs=1)
    assert len(new.history_) == 3
    assert new.predict_proba(X).shape == (len(X), 2)


def test_a_frozen_model_comes_back_frozen(tmp_path):
    # Saved between freeze() and the next cycle, it came back unfrozen and that cycle moved the body.
    X = _frame()
    y = np.arange(len(X)) % 2
    clf = TabularClassifier(**FAST).fit(X, y).freeze()
    new = _roundtrip(clf, tmp_path)
    frozen = [n for n, p in clf.model_.named_parameters() if not p.requires_grad]
    assert frozen and frozen == [n for n, p in new.model_.named_parameters() if not p.requires_grad]
    assert not any(n.startswith("head") for n in frozen)
    assert all(p.requires_grad for p in _roundtrip(new.unfreeze(), tmp_path).model_.parameters())


def test_weights_load_without_pickle(tmp_path):
    X = _frame()
    path = TabularRegressor(**FAST).fit(X, np.arange(len(X), dtype=float)).save(tmp_path / "m.tabdl")
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["meta.json", "weights.pt"]
        meta = json.loads(zf.read("meta.json"))
        state = torch.load(io.BytesIO(zf.read("weights.pt")), weights_only=True)
    # Version 2 still: nothing in this model needs a version 3 reader (raw columns).
    assert meta["format_version"] == 2 < FORMAT_VERSION and meta["class"] == "TabularRegressor"
    assert meta["torch_version"] == torch.__version__
    assert all(isinstance(v, torch.Tensor) for v in state.values())


def test_unfitted_cannot_be_saved(tmp_path):
    from sklearn.exceptions import NotFittedError

    (tmp_path / "m.tabdl").write_bytes(b"an older save")
    with pytest.raises(NotFittedError):
        TabularRegressor().save(tmp_path / "m.tabdl")
    assert (tmp_path / "m.tabdl").read_bytes() == b"an older save"  # a failed save clobbers nothing
    assert [p.name for p in tmp_path.iterdir()] == ["m.tabdl"]


def test_non_json_param_is_named(tmp_path):
    X = _frame()
    clf = TabularClassifier(**FAST).fit(X, np.arange(len(X)) % 2)
    clf.set_params(emb_sizes={"s": object()})
    with pytest.raises(ValueError, match="emb_sizes"):
        clf.save(tmp_path / "m.tabdl")


@pytest.fixture(scope="module")
def saved_bytes(tmp_path_factory):
    X = _frame()
    path = tmp_path_factory.mktemp("m") / "m.tabdl"
    TabularClassifier(**FAST).fit(X, np.arange(len(X)) % 2).save(path)
    return path.read_bytes()


def _rewrite_meta(data: bytes, change) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            body = src.read(name)
            if name == "meta.json":
                meta = json.loads(body)
                change(meta)
                body = json.dumps(meta).encode()
            dst.writestr(name, body)
    return out.getvalue()


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9, 0.999])
def test_truncated_file(tmp_path, saved_bytes, cut):
    p = tmp_path / "t.tabdl"
    p.write_bytes(saved_bytes[: int(len(saved_bytes) * cut)])
    with pytest.raises(ValueError, match="tabdl file|corrupted"):
        tabdl.load(p)


def test_corrupted_file(tmp_path, saved_bytes):
    rng = np.random.default_rng(0)
    for i in range(60):
        data = bytearray(saved_bytes)
        pos = rng.integers(0, len(data), size=3)
        for p in pos:
            data[p] ^= 0xFF
        path = tmp_path / f"c{i}.tabdl"
        path.write_bytes(bytes(data))
        # A flip in zip padding may be harmless; anywhere else it must give a ValueError.
        try:
            tabdl.load(path)
        except ValueError:
            pass


def test_garbage_and_empty_files(tmp_path):
    for body in (b"", b"not a zip at all", pickle.dumps({"a": 1})):
        p = tmp_path / "g.tabdl"
        p.write_bytes(body)
        with pytest.raises(ValueError, match="not a readable tabdl file") as err:
            tabdl.load(p)
        # A pickle (joblib.dump of a model) is named as one, with the way to read it.
        assert ("joblib.load" in str(err.value)) == body.startswith(b"\x80")


def test_tampered_weights_fail_checksum(tmp_path, saved_bytes):
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(saved_bytes)) as src, zipfile.ZipFile(out, "w") as dst:
        dst.writestr("meta.json", src.read("meta.json"))
        dst.writestr("weights.pt", src.read("weights.pt")[:-10] + b"0123456789")
    p = tmp_path / "w.tabdl"
    p.write_bytes(out.getvalue())
    with pytest.raises(ValueError, match="checksum"):
        tabdl.load(p)


def test_version_1_files_from_an_older_tabdl_predict_as_they_did():
    # Written by tabdl at 8f32a03 (tests/data/make_format_v1.py): bags of 2 nets, a column that
    # was constant at fit and takes other values in the new rows. Version 2 pins such columns;
    # a version 1 file must not start to.
    import importlib.util

    data = Path(__file__).parent / "data"
    spec = importlib.util.spec_from_file_location("make_format_v1", data / "make_format_v1.py")
    maker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(maker)
    expected = json.loads((data / "format_v1_expected.json").read_text())
    reg = tabdl.load(data / "format_v1_regressor.tabdl")
    clf = tabdl.load(data / "format_v1_classifier.tabdl")
    assert FORMAT_VERSION >= 2 and len(reg.model_.nets) == 2
    rows = maker.new_rows()
    np.testing.assert_allclose(reg.predict(rows), expected["regressor_predict"], rtol=1e-6)
    np.testing.assert_allclose(clf.predict_proba(rows), expected["classifier_predict_proba"], rtol=1e-6)
    # The constant column still moves the old models' output, as it did when they were written.
    moved = reg.predict(rows) != reg.predict(rows.assign(const=1.0))
    assert moved.tolist() == (rows["const"] != 1.0).tolist()


def test_wrong_format_version(tmp_path, saved_bytes):
    p = tmp_path / "v.tabdl"
    p.write_bytes(_rewrite_meta(saved_bytes, lambda m: m.update(format_version=FORMAT_VERSION + 1)))
    with pytest.raises(ValueError, match="format version"):
        tabdl.load(p)


def test_unknown_class_is_refused(tmp_path, saved_bytes):
    p = tmp_path / "k.tabdl"
    p.write_bytes(_rewrite_meta(saved_bytes, lambda m: m.update({"class": "os.system"})))
    with pytest.raises(ValueError, match="cannot save or load"):
        tabdl.load(p)


def test_inconsistent_state_is_a_value_error(tmp_path, saved_bytes):
    def shrink(m):
        m["state"]["attrs"]["model_config_"]["layers"] = [3]

    p = tmp_path / "s.tabdl"
    p.write_bytes(_rewrite_meta(saved_bytes, shrink))
    with pytest.raises(ValueError, match="inconsistent") as err:
        tabdl.load(p)
    assert "written by" not in str(err.value)  # this tabdl wrote it: no version to blame


def test_a_state_from_another_tabdl_names_both_versions(tmp_path, saved_bytes):
    # A newer tabdl's file with a parameter this one lacks read "unexpected keyword argument" and
    # nothing else: the versions are the likely cause.
    def newer(m):
        m["tabdl_version"] = "9.9.0"
        m["state"]["params"]["a_future_option"] = 1

    p = tmp_path / "n.tabdl"
    p.write_bytes(_rewrite_meta(saved_bytes, newer))
    with pytest.raises(ValueError, match=r"inconsistent .*written by tabdl 9\.9\.0, read by " + tabdl.__version__):
        tabdl.load(p)


def test_bytes_paths_save_and_load_as_their_text(tmp_path):
    X = _frame()
    reg = TabularRegressor(**FAST).fit(X, np.arange(len(X), dtype=float))
    path = os.fsencode(tmp_path / "b.tabdl")
    assert reg.save(path) == str(tmp_path / "b.tabdl")
    assert [p.name for p in tmp_path.iterdir()] == ["b.tabdl"]
    np.testing.assert_array_equal(tabdl.load(path).predict(X), reg.predict(X))


def test_pickle_and_joblib_still_work(tmp_path):
    X = _frame()
    clf = TabularClassifier(**FAST).fit(X, np.arange(len(X)) % 2)
    expected = clf.predict_proba(X)
    assert np.array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(X), expected)
    joblib.dump(clf, tmp_path / "m.joblib")
    assert np.array_equal(joblib.load(tmp_path / "m.joblib").predict_proba(X), expected)


@pytest.mark.parametrize(
    "value",
    [
        (1, "a", None),
        slice(None, 0.1),
        {3: "x", "__tuple__": 1, (1, 2): [1.5]},
        [float("nan"), float("inf"), -float("inf")],
        np.array([[1, 2], [3, 4]], dtype=np.int32),
        np.array(["a", "bb"]),
        np.array(["a", 3, None], dtype=object),
        np.array([0.1, np.nan], dtype=np.float32),
        pd.DataFrame({"epoch": [1, 2], "loss": [0.5, np.nan], "name": ["a", "b"]}),
        [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-03-31 12:30", tz="Europe/Paris")],
        np.array([pd.Timestamp("2024-01-01 00:00:00.000001"), "a"], dtype=object),
        np.array(["2024-01-01T00:00:00.000000001", "NaT", "1500-01-01"], dtype="datetime64[ns]"),
        np.array(["2024-01-01", "9999-12-31"], dtype="datetime64[s]"),
        np.array([1, -3, "NaT"], dtype="timedelta64[ms]"),
        np.array([[2**64 - 1], [0]], dtype=np.uint64),
    ],
)
def test_encode_decode_roundtrip(value):
    text = json.dumps(encode(value), allow_nan=False)
    back = decode(json.loads(text))
    if isinstance(value, np.ndarray):
        assert back.dtype == value.dtype
        np.testing.assert_array_equal(back, value)
    elif isinstance(value, pd.DataFrame):
        pd.testing.assert_frame_equal(back, value, check_dtype=False)
        assert back["epoch"].dtype == value["epoch"].dtype
    elif isinstance(value, list):
        assert repr(back) == repr(value)
    else:
        assert back == value


def test_model_pickled_on_a_gpu_unpickles_on_a_cpu_only_machine():
    # joblib/pickle, the scikit-learn way to persist: a model fitted with device="auto" on a GPU
    # machine kept device_="cuda" after unpickling on a CPU server, and predict failed.
    import pickle

    model, X, _ = _tabular_classifier()
    expected = model.predict_proba(X)
    model.device_ = "cuda:0"  # as if fitted on a GPU (getstate ships the weights on the CPU)
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    new = pickle.loads(pickle.dumps(model))
    assert new.device_ == "cpu"
    assert np.array_equal(new.predict_proba(X), expected)


def test_model_saved_on_a_gpu_loads_on_a_cpu_only_machine(tmp_path):
    model, X, _ = _tabular_classifier()
    expected = model.predict_proba(X)
    model.device_ = "cuda:0"  # as if fitted on a GPU: weights are saved from the CPU copy anyway
    path = model.save(tmp_path / "m.tabdl")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    new = tabdl.load(path)
    assert new.device_ == "cpu"
    assert np.array_equal(new.predict_proba(X), expected)


def test_a_parameter_that_is_not_json_says_how_to_save_anyway(tmp_path):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=120)})
    y = (X["x"] > 0).astype(int).to_numpy()
    clf = TabularClassifier(epochs=1, n_bags=1, random_state=np.random.RandomState(0), metrics=[lambda t, p: 0.0]).fit(
        X, y
    )
    with pytest.raises(ValueError, match=r"\['params'\]\[.*set_params\(\)"):
        clf.save(tmp_path / "m.tabdl")
    assert not (tmp_path / "m.tabdl").exists()
    clf.set_params(random_state=0, metrics=None).save(tmp_path / "m.tabdl")
    np.testing.assert_array_equal(tabdl.load(tmp_path / "m.tabdl").predict_proba(X), clf.predict_proba(X))


def test_a_net_with_raw_columns_writes_version_3_and_round_trips(tmp_path, monkeypatch):
    import tabdl.estimators

    monkeypatch.setattr(tabdl.estimators, "_RAW_FLAGS_ABOVE", 0)
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=1200), "flag": rng.integers(0, 2, size=1200)})
    y = X["x"].to_numpy() + X["flag"].to_numpy()
    reg = TabularRegressor(epochs=2, n_bags=2, random_state=0).fit(X, y)
    assert "raw_cont" in reg.model_config_
    path = reg.save(tmp_path / "m.tabdl")
    with zipfile.ZipFile(path) as zf:
        assert json.loads(zf.read("meta.json"))["format_version"] == 3
    back = tabdl.load(path)
    np.testing.assert_array_equal(back.predict(X), reg.predict(X))
    np.testing.assert_allclose(back.predict(X.iloc[[3]]), reg.predict(X)[[3]], rtol=1e-5)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(reg)).predict(X), reg.predict(X))


def test_a_users_dict_keyed_like_the_timestamp_tag_reads_as_it_was_written():
    # Files before version 4 hold {"__timestamp__": 3} (emb_sizes of a column of that name) as a
    # plain dict; the tag reading made it a Timestamp of 3 ns.
    assert decode(json.loads('{"__timestamp__": 3}')) == {"__timestamp__": 3}
    assert decode(json.loads(json.dumps(encode({"__timestamp__": 3})))) == {"__timestamp__": 3}


def test_date_column_names_and_date_ids_save_as_version_4(tmp_path):
    # Column names from a pivot over dates fitted and predicted, but save refused the Timestamps.
    from tabdl import MatrixFactorization

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200), "c": rng.choice(list("xyz"), 200)})
    y = X["a"].to_numpy() + X["b"].to_numpy()
    X.columns = pd.date_range("2024-01-01", periods=3, tz="Europe/Paris")
    reg = TabularRegressor(epochs=2, n_bags=1, random_state=0).fit(X, y)
    path = reg.save(tmp_path / "m.tabdl")
    with zipfile.ZipFile(path) as zf:
        assert json.loads(zf.read("meta.json"))["format_version"] == FORMAT_VERSION == 4
    back = tabdl.load(path)
    np.testing.assert_array_equal(back.predict(X), reg.predict(X))
    np.testing.assert_array_equal(back.predict(X.iloc[:, ::-1]), reg.predict(X))  # selected by name
    R = pd.DataFrame({"day": pd.to_datetime(rng.integers(0, 20, 300), unit="D"), "item": rng.integers(0, 30, 300)})
    mf = MatrixFactorization(epochs=2, random_state=0).fit(R, rng.uniform(1, 5, 300))
    back = tabdl.load(mf.save(tmp_path / "mf.tabdl"))
    np.testing.assert_array_equal(back.predict(R), mf.predict(R))
    pd.testing.assert_frame_equal(back.recommend(R["day"][0], k=3), mf.recommend(R["day"][0], k=3))
    # Datetime class labels: classes_ is a datetime64 array (refused: "cannot store an array of dtype").
    days = pd.Series(pd.to_datetime(["2024-01-01", "2024-06-30"])[rng.integers(0, 2, 200)])
    clf = TabularClassifier(epochs=1, n_bags=1, random_state=0).fit(X, days)
    back = tabdl.load(clf.save(tmp_path / "clf.tabdl"))
    assert back.classes_.dtype == clf.classes_.dtype
    np.testing.assert_array_equal(back.predict(X), clf.predict(X))


def test_save_to_a_folder_or_a_missing_folder_names_the_users_path(tmp_path):
    # The OS error named save's temporary file (m.tabdl.tmp<pid>), a file the user never asked for.
    model = TabularRegressor(epochs=1, n_bags=1, random_state=0).fit(
        pd.DataFrame({"a": np.arange(20.0)}), np.arange(20.0)
    )
    with pytest.raises(IsADirectoryError, match="it is a folder"):
        model.save(tmp_path)
    with pytest.raises(FileNotFoundError, match="nowhere.*does not exist") as err:
        model.save(tmp_path / "nowhere" / "m.tabdl")
    assert ".tmp" not in str(err.value)
    for no_file in ("", str(tmp_path / "newdir") + os.sep):  # no file name at all
        with pytest.raises(IsADirectoryError, match="give a file name") as err:
            model.save(no_file)
        assert ".tmp" not in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_saves_from_several_threads_to_one_path_do_not_trip_over_each_other(tmp_path):
    # The temporary file was named after the process id only: threads wrote, renamed and removed
    # each other's, and saves failed with FileNotFoundError.
    model = TabularRegressor(epochs=1, n_bags=1, random_state=0).fit(
        pd.DataFrame({"a": np.arange(20.0)}), np.arange(20.0)
    )
    path, errors = tmp_path / "m.tabdl", []

    def work():
        for _ in range(10):
            try:
                model.save(path)
            except Exception as e:  # noqa: BLE001 - collected, asserted below
                errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [p.name for p in tmp_path.iterdir()] == ["m.tabdl"]  # no temporary file left behind
    np.testing.assert_array_equal(
        tabdl.load(path).predict(pd.DataFrame({"a": [3.0]})), model.predict(pd.DataFrame({"a": [3.0]}))
    )


def test_list_like_and_device_parameters_are_saved_as_what_they_stand_for(tmp_path):
    # Found in review: cat_features=X.select_dtypes(...).columns (a pd.Index), a set or a Series,
    # and device=torch.device("cpu") were accepted by fit and refused by save.
    X, y = _frame(), np.arange(120.0)
    base = TabularRegressor(cat_features=["s", "b"], **FAST).fit(X, y)
    for cats in (X[["s", "b"]].columns, pd.Series(["s", "b"]), {"s", "b"}):
        reg = TabularRegressor(cat_features=cats, device=torch.device("cpu"), **FAST).fit(X, y)
        back = _roundtrip(reg, tmp_path)
        assert sorted(back.cat_features) == ["b", "s"] and back.device == "cpu"
        np.testing.assert_array_equal(back.predict(X), reg.predict(X))
        if not isinstance(cats, set):  # a set's order is its own: the columns' order may differ
            np.testing.assert_array_equal(back.predict(X), base.predict(X))


# >>> hostile and broken files: load fails at once with a ValueError naming the file
def _edit(data: bytes, meta_change=None, weights_change=None) -> bytes:
    """``data`` (a saved file) with its meta.json and/or weights edited, the checksum the loader
    verifies recomputed."""
    import hashlib

    with zipfile.ZipFile(io.BytesIO(data)) as src:
        meta, weights = json.loads(src.read("meta.json")), src.read("weights.pt")
    if weights_change is not None:
        sd = torch.load(io.BytesIO(weights), weights_only=True)
        sd = weights_change(sd) or sd
        buf = io.BytesIO()
        torch.save(sd, buf)
        weights = buf.getvalue()
        meta["weights_sha256"] = hashlib.sha256(weights).hexdigest()
    if meta_change is not None:
        meta = meta_change(meta) or meta
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        dst.writestr("meta.json", meta if isinstance(meta, str) else json.dumps(meta))
        dst.writestr("weights.pt", weights)
    return out.getvalue()


def _refused(tmp_path, data: bytes, match: str = "") -> str:
    p = tmp_path / "hostile.tabdl"
    p.write_bytes(data)
    with pytest.raises(ValueError, match=match) as err:
        tabdl.load(p)
    assert str(p) in str(err.value)
    return str(err.value)


@pytest.fixture(scope="module")
def one_net_bytes(tmp_path_factory):
    X = _frame()
    path = tmp_path_factory.mktemp("m") / "r.tabdl"
    TabularRegressor(n_bags=1, **FAST).fit(X, np.nan_to_num(X["a"].to_numpy())).save(path)
    return path.read_bytes()


def _config(change):
    def edit(m):
        change(m["state"]["attrs"]["model_config_"])

    return edit


def test_a_config_bigger_than_its_weights_fails_before_a_net_is_built(
    tmp_path, saved_bytes, one_net_bytes, monkeypatch
):
    # Found in review: n_bags=20000 (or layers=[20000, 20000]) in a 110 KB file took 55 s and
    # 4 GB: after the load onto meta nets failed, the whole model was built from the config.
    from tabdl import modules

    built = []
    init = modules.TabularMLP.__init__

    def counting(self, *args, **kwargs):
        init(self, *args, **kwargs)
        built.append(next(self.parameters()).device.type)

    monkeypatch.setattr(modules.TabularMLP, "__init__", counting)
    _refused(tmp_path, _edit(saved_bytes, _config(lambda c: c.update(n_bags=50))), "n_bags")
    assert built == []  # not one net, not even on meta
    _refused(tmp_path, _edit(one_net_bytes, _config(lambda c: c.update(layers=[200]))), "body.0.0.weight")
    _refused(tmp_path, _edit(one_net_bytes, _config(lambda c: c.update(layers=[4000, 4000]))), "layers")
    assert "cpu" not in built  # never materialised
    _refused(tmp_path, _edit(one_net_bytes, _config(lambda c: c.update(n_cont=10**12))), "n_cont")
    _refused(tmp_path, _edit(one_net_bytes, _config(lambda c: c.update(layers=[1] * 10_000))), "layers")


def test_a_config_the_net_cannot_be_built_from_is_a_value_error(tmp_path, one_net_bytes):
    # Found in review: layers=[0] failed at load with tabm's AssertionError, a non-bool sparse at
    # predict with torch's TypeError from embedding()
    _refused(tmp_path, _edit(one_net_bytes, _config(lambda c: c.update(layers=[0]))), "layers")
    mf = _matrix_factorization()[0]
    data = mf.save(tmp_path / "mf.tabdl") and (tmp_path / "mf.tabdl").read_bytes()
    _refused(tmp_path, _edit(data, _config(lambda c: c.update(sparse=1))), "sparse")


def test_meta_json_beyond_the_cap_is_refused_unread(tmp_path, saved_bytes, monkeypatch):
    # Found in review: a 3 MB file whose meta.json inflates to 3 GB was read whole (MemoryError).
    assert tabdl.io.MAX_META_BYTES >= 2**30  # a 1M-category vocabulary is ~11 MB of JSON
    with zipfile.ZipFile(io.BytesIO(saved_bytes)) as src:
        meta, weights = src.read("meta.json"), src.read("weights.pt")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        dst.writestr("meta.json", meta[:-1] + b" " * 3_000_000 + b"}")  # deflates to a few KB
        dst.writestr("weights.pt", weights)
    monkeypatch.setattr(tabdl.io, "MAX_META_BYTES", 1_000_000)
    _refused(tmp_path, out.getvalue(), "MAX_META_BYTES")


def test_encrypted_members_and_deep_json_are_value_errors(tmp_path, saved_bytes):
    # Found in review: a RuntimeError (encrypted flag) and a RecursionError escaped load.
    for member in ("meta.json", "weights.pt"):
        data = bytearray(saved_bytes)
        with zipfile.ZipFile(io.BytesIO(saved_bytes)) as zf:
            info = zf.getinfo(member)
        data[info.header_offset + 6] |= 1  # general purpose flag bit 0: encrypted
        central = bytes(data).rfind(b"PK\x01\x02", 0, len(data))
        while central >= 0:  # the central directory's record of the member
            name_len = int.from_bytes(data[central + 28 : central + 30], "little")
            if data[central + 46 : central + 46 + name_len] == member.encode():
                data[central + 8] |= 1
            central = bytes(data).rfind(b"PK\x01\x02", 0, central)
        _refused(tmp_path, bytes(data), "encrypted")
    _refused(tmp_path, _edit(saved_bytes, lambda m: "[" * 100_000 + "]" * 100_000), "not a readable")
    _refused(
        tmp_path,
        _edit(saved_bytes, lambda m: json.dumps(m)[:-1] + ',"x":' + "[" * 5000 + "]" * 5000 + "}"),
        "not a readable",
    )
    _refused(tmp_path, _edit(saved_bytes, lambda m: m.update(format_version=True)), "format version")


def _nd(flat, dtype, shape):
    return {"__ndarray__": flat, "dtype": dtype, "shape": shape}


MALFORMED = {
    "bigint": _nd([10**40], "<i8", [1]),
    "int-out-of-range": _nd([300], "|u1", [1]),
    "shape-mismatch": _nd([1, 2, 3], "<f8", [4]),
    "negative-shape": _nd([1, 2, 3, 4], "<f8", [-1, 2]),
    "huge-shape": _nd([], "<f8", [0, 10**30, 10**30]),
    "shape-not-list": _nd([1], "<f8", "ab"),
    "many-dims": _nd([1], "<f8", [1] * 100),
    "subarray-dtype": _nd([1], "(1000,1000,1000)f8", [1]),
    "object-subarray": _nd([1], "(3,)O", [1]),
    "void-dtype": _nd([1], "V8", [1]),
    "structured-dtype": _nd([1], "i4,f8", [1]),
    "dtype-not-str": _nd([1.5], None, [1]),
    "dtype-unknown": _nd([1], "nope", [1]),
    "wide-text": _nd(["a"] * 1000, "<U2000000", [1000]),
    "text-for-float": _nd(["x"], "<f8", [1]),
    "number-text-for-float": _nd(["1.5"], "<f8", [1]),
    "text-for-bool": _nd(["False"], "|b1", [1]),
    "nested-for-float": _nd([[1, 2], [3]], "<f8", [2]),
    "flat-not-list": _nd(5, "<f8", []),
    "bad-dates": _nd(["notadate"], "<M8[ns]", [1]),
    "ints-for-dates": _nd([5], "<M8[ns]", [1]),
    "text-for-durations": _nd(["x"], "<m8[ns]", [1]),
    "float-text": {"__float__": "abc"},
    "float-number": {"__float__": 5},
    "float-huge": {"__float__": "1" * 5000},
    "timestamp-text": {"__timestamp__": "notadate", "tz": None},
    "timestamp-year": {"__timestamp__": "99999-01-01", "tz": None},
    "timestamp-tz-int": {"__timestamp__": "2024-01-01T00:00:00+00:00", "tz": 5},
    "items-not-pairs": {"__items__": [[1]]},
    "items-triples": {"__items__": [[1, 2, 3]]},
    "items-int": {"__items__": 5},
    "items-unhashable": {"__items__": [[{"a": 1}, 2]]},
    "tuple-int": {"__tuple__": 5},
    "slice-four": {"__slice__": [1, 2, 3, 4]},
    "slice-dict": {"__slice__": {"a": 1}},
    "frame-str": {"__frame__": "x"},
    "frame-columns-int": {"__frame__": {"columns": 5, "index": [], "data": {}}},
    "frame-missing-column": {"__frame__": {"columns": ["a"], "index": [0], "data": {}}},
    "frame-ragged": {"__frame__": {"columns": ["a", "b"], "index": [0], "data": {"0": [1, 2, 3], "1": [1]}}},
    "frame-short-column": {"__frame__": {"columns": ["a"], "index": [0, 1, 2, 3], "data": {"0": [1]}}},
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_tags_name_the_file_and_the_field(tmp_path, saved_bytes, name):
    # Found in review: OverflowError, TypeError, MemoryError or a silently wrong value.
    def plant(m):
        m["state"]["attrs"]["foo_"] = {"deep": [0, MALFORMED[name]]}

    msg = _refused(tmp_path, _edit(saved_bytes, plant), "state is inconsistent")
    assert "['attrs']['foo_']['deep'][1]" in msg
    with pytest.raises(ValueError):
        decode(MALFORMED[name])


@pytest.mark.parametrize(
    "dtype", [torch.float64, torch.float16, torch.bfloat16, torch.complex64, torch.int64, torch.bool]
)
def test_weights_of_another_dtype_are_refused(tmp_path, saved_bytes, dtype):
    # Found in review: they loaded, and predict failed inside torch (or ran on int weights).
    def retype(sd):
        sd["nets.0.body.0.0.weight"] = sd["nets.0.body.0.0.weight"].to(dtype)

    _refused(tmp_path, _edit(saved_bytes, weights_change=retype), "'nets.0.body.0.0.weight' is torch")


def test_weights_of_another_shape_or_not_tensors_are_refused(tmp_path, saved_bytes):
    def shrink(sd):
        sd["nets.0.embeds.tables.0.weight"] = sd["nets.0.embeds.tables.0.weight"][:1]

    _refused(tmp_path, _edit(saved_bytes, weights_change=shrink), "'nets.0.embeds.tables.0.weight'")
    _refused(tmp_path, _edit(saved_bytes, weights_change=lambda sd: [1, 2]), "not a dict")
    _refused(tmp_path, _edit(saved_bytes, weights_change=lambda sd: {**sd, "x": 5}), "named tensor")
    # an expanded view claims a size its storage lacks
    _refused(
        tmp_path, _edit(saved_bytes, weights_change=lambda sd: {**sd, "x": torch.zeros(1).expand(10**6, 10**6)}), "view"
    )


def test_nan_weights_are_refused(tmp_path, saved_bytes):
    # The learner restores finite weights after a NaN/inf loss, so no saved model holds them.
    def poison(sd):
        sd["nets.1.head.0.weight"] = torch.full_like(sd["nets.1.head.0.weight"], float("nan"))

    _refused(tmp_path, _edit(saved_bytes, weights_change=poison), "NaN")


def test_legitimate_files_the_load_checks_once_refused(tmp_path):
    # Found in review: a categoricals-only table keeps num_embeddings' sizes in its config (32
    # frequencies) for a net of 26 weights; 13,000 int-like text classes are <U21 for labels of
    # 5 characters. Both were refused by checks meant for hostile files.
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"s": rng.choice(list("xyz"), 1200)})
    reg = TabularRegressor(layers=(), epochs=1, n_bags=1, random_state=0).fit(X, rng.normal(size=1200))
    assert reg.model_config_["num_embeddings"] and reg.model_.num_embeds is None
    np.testing.assert_array_equal(_roundtrip(reg, tmp_path).predict(X), reg.predict(X))
    labels = np.arange(13000).astype(str)
    clf = TabularClassifier(layers=(4,), epochs=1, n_bags=1, n_members=1, num_embeddings=None, random_state=0)
    Xc = pd.DataFrame({"a": np.arange(26000.0)})
    clf.fit(Xc, np.tile(labels, 2))
    assert clf.classes_.dtype == np.dtype("<U21")
    back = _roundtrip(clf, tmp_path)
    np.testing.assert_array_equal(back.classes_, clf.classes_)
    np.testing.assert_array_equal(back.predict(Xc.head(50)), clf.predict(Xc.head(50)))


def _pre(key, value):
    def edit(m):
        m["state"]["preprocessor"][key] = value

    return edit


def _attr(key, value):
    def edit(m):
        m["state"]["attrs"][key] = value

    return edit


def test_a_preprocessor_that_disagrees_with_the_net_is_refused(tmp_path, one_net_bytes):
    # Found in review: each loaded, then predict hit an IndexError / TypeError (or gave garbage).
    def more_columns(m):
        p = m["state"]["preprocessor"]
        p["cont_names"].append("a2"), p["columns"].append("a2"), p["fills"].append(0.0)
        p["has_indicator"].append(False), p["stats"].append(p["stats"][0])

    meta = json.loads(zipfile.ZipFile(io.BytesIO(one_net_bytes)).read("meta.json"))
    vocab = meta["state"]["preprocessor"]["vocabs"][0]
    for edit, match in [
        (
            _pre("vocabs", [vocab + [f"q{i}" for i in range(20)], meta["state"]["preprocessor"]["vocabs"][1]]),
            "vocabularies",
        ),
        (_pre("vocabs", [vocab]), "vocabularies"),
        (_pre("vocabs", ["xyz", "ab"]), "vocabulary"),
        # Found in review: a category twice loaded, then predict failed in pandas (InvalidIndexError)
        (_pre("vocabs", [vocab[:1] * len(vocab), meta["state"]["preprocessor"]["vocabs"][1]]), "twice"),
        (more_columns, "continuous inputs"),
        (_pre("fills", [0.0]), "fills"),
        (_pre("fills", ["a", "b"]), "fill"),
        (_pre("stats", []), "stats"),
        (_pre("cat_names", ["zzz", "s"]), "columns"),
        (_attr("y_min_", "abc"), "y_min_"),
        (_attr("device_", "meta"), "device_"),
        (_attr("device_", 5), "device_"),
        (_config(lambda c: c.update(reduce="proba")), "reduce"),
    ]:
        _refused(tmp_path, _edit(one_net_bytes, edit), match)


def test_a_classifier_whose_classes_disagree_with_its_net_is_refused(tmp_path, saved_bytes):
    _refused(tmp_path, _edit(saved_bytes, _attr("classes_", _nd([0, 1, 2], "<i8", [3]))), "outputs")
    _refused(tmp_path, _edit(saved_bytes, lambda m: m.update({"class": "TabularRegressor"})), "inconsistent")


def test_matrix_factorization_seen_items_out_of_range_are_refused(tmp_path):
    mf = _matrix_factorization()[0]
    data = mf.save(tmp_path / "mf.tabdl") and (tmp_path / "mf.tabdl").read_bytes()
    n_users, n_items = len(mf.user_ids_), len(mf.item_ids_)
    items = mf.seen_items_.copy()
    items[0] = n_items + 5
    _refused(tmp_path, _edit(data, _attr("seen_items_", encode(items))), "seen_items_")
    indptr = mf.seen_indptr_.copy()
    indptr[-1] += 100
    _refused(tmp_path, _edit(data, _attr("seen_indptr_", encode(indptr))), "seen_indptr_")
    _refused(tmp_path, _edit(data, _attr("seen_indptr_", encode(indptr[:-1]))), "seen_indptr_")
    _refused(tmp_path, _edit(data, _attr("y_range_", "abc")), "y_range_")

    def scramble(sd):
        sd["neighbours.neighbour_items"] = torch.full_like(sd["neighbours.neighbour_items"], n_items + 7)

    _refused(tmp_path, _edit(data, weights_change=scramble), "neighbour")
    assert n_users > 0


def test_an_encoder_whose_tables_disagree_with_its_vocabularies_is_refused(tmp_path):
    enc = _entity_embedding_encoder(standalone=False)[0]  # vocabularies of 3 and 2 categories
    enc.save(tmp_path / "e.tabdl")
    data = (tmp_path / "e.tabdl").read_bytes()
    good = enc.tables_[0]

    def table(t):
        return lambda sd: sd.update({"tables.0": t})

    for change, match in [
        (table(torch.from_numpy(good[:1].copy())), "table 0"),  # fewer rows: np.take(mode="clip") hid it
        (table(torch.from_numpy(good[:0].copy())), "table 0"),
        (table(torch.from_numpy(good.ravel().copy())), "table 0"),
        (table(torch.from_numpy(good).to(torch.int64)), "table 0"),
        (table(torch.from_numpy(good).to(torch.complex64)), "table 0"),
        (table(torch.from_numpy(good).to(torch.bfloat16)), "table 0"),
        (lambda sd: sd.update({"zzz": torch.zeros(1)}), "n_tables"),
    ]:
        _refused(tmp_path, _edit(data, weights_change=change), match)
    for edit, match in [
        (lambda m: m["state"]["params"].update(dtype="V8"), "float dtype"),
        (lambda m: m["state"]["params"].update(dtype="<U5"), "float dtype"),
        (lambda m: m["state"].update(n_tables=10**12), "n_tables"),
        (lambda m: m["state"].update(n_tables="2"), "n_tables"),
        (_attr("centers_", [_nd([0.0], "<f4", [1])] * 2), "centers_"),
        (lambda m: m["state"].update(output={"transform": "evil"}), "output"),
        (_attr("vocabs_", [["x", "x", "y"], enc.vocabs_[1]]), "twice"),
    ]:
        _refused(tmp_path, _edit(data, edit), match)


@pytest.mark.parametrize(
    "key, value",
    [
        ("cat_features_", ["nope", "s"]),
        ("cont_features_", None),
        ("date_features_", ["s"]),
        ("columns_", ["a", "n"]),
        ("n_features_in_", "4"),
        ("feature_names_in_", 5),
    ],
)
def test_an_encoder_whose_columns_disagree_is_refused(tmp_path, key, value):
    # Found in review: loaded, then transform failed deep in pandas (KeyError) or Python (TypeError)
    enc, X, _ = _entity_embedding_encoder()
    enc.save(tmp_path / "e.tabdl")
    data = (tmp_path / "e.tabdl").read_bytes()
    _refused(tmp_path, _edit(data, _attr(key, value)), key)
