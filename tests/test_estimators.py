import copy
import io
import warnings

import joblib
import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    parametrize_with_checks,
)

from tabdl import TabularClassifier, TabularRegressor

matplotlib.use("Agg")


def fast(cls, **kw):
    """Small, seeded estimators: the checks fit dozens of times.

    3 epochs, not 2: with a 4-member ensemble, 2 epochs on the 200-row data of
    check_regressors_train reached R2 0.37 (it asks > 0.5) and 3 reached 0.70 (1 member: 0.63 /
    0.72); 3 keeps the checks clear of that edge whatever the default member count.
    """
    return cls(**{"epochs": 3, "layers": (32, 16), "random_state": 0, **kw})


# The one check we fail on purpose for both estimators, check_dataframe_column_names_consistency,
# is not yielded by parametrize_with_checks; it is run and explained in
# test_column_names_check_fails_on_reorder.
def _expected_failures(est):
    # check_class_weight_classifiers was an expected failure with 1 member and 2 epochs (the net
    # stayed near uniform on its 45 rows); with the default ensemble and 3 epochs it passes.
    return {
        "check_sample_weight_equivalence_on_dense_data": (
            "a row of weight 2 and the same row repeated give the same expected loss, not the same "
            "fit: minibatches, the validation cut and the bags differ (batch noise), the "
            "preprocessing learns from X's rows unweighted (the quantile and standard scalers see "
            "the repeated row twice), and the 'auto' settings count rows. With every noise source "
            "off and scaler='none' the check passes (review 46). tests/test_sample_weight.py checks "
            "the losses exactly and the fits statistically"
        ),
    }


@parametrize_with_checks([fast(TabularRegressor), fast(TabularClassifier)], expected_failed_checks=_expected_failures)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("cls", [TabularRegressor, TabularClassifier])
def test_column_names_check_fails_on_reorder(cls):
    """Expected failure: sklearn wants reordered columns rejected; tabdl selects by name.

    Issue 2 requires that columns may come in another order (and extra columns are ignored),
    so the check's first case (reversed names must raise) fails; the rest of it (no warnings
    with valid names, feature_names_in_) is asserted by the other tests in this file.
    """
    with pytest.raises(AssertionError, match="predict did not raise"):
        check_dataframe_column_names_consistency(cls.__name__, fast(cls))


# >>> data
def frame(n=300, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "num": rng.normal(size=n),
            "num2": rng.uniform(size=n),
            "color": pd.Series(rng.choice(["red", "green", "blue"], size=n), dtype="str"),
            "size": pd.Categorical(rng.choice(["S", "M", "L"], size=n)),
            "flag": rng.random(n) > 0.5,
        }
    )
    X.loc[X.index[::17], "num2"] = np.nan
    return X


def reg_target(X: pd.DataFrame) -> np.ndarray:
    return 2 * X["num"].to_numpy() + (X["color"] == "red").to_numpy() * 3.0 + X["flag"].to_numpy()


def clf_target(X: pd.DataFrame) -> np.ndarray:
    return np.where(X["num"].to_numpy() + (X["color"] == "red").to_numpy() > 0.3, "yes", "no")


@pytest.fixture(scope="module")
def data():
    return frame(), frame(80, seed=1)


@pytest.fixture(scope="module")
def fitted_reg(data):
    X, _ = data
    return fast(TabularRegressor, epochs=8).fit(X, reg_target(X))


@pytest.fixture(scope="module")
def fitted_clf(data):
    X, _ = data
    return fast(TabularClassifier, epochs=8).fit(X, clf_target(X))


# >>> sklearn citizenship
@pytest.mark.parametrize("cls", [TabularRegressor, TabularClassifier])
def test_clone_keeps_every_param(cls):
    est = cls(epochs=3, dropout=0.2, layers=(8,), lr=slice(1e-3), random_state=5)
    params = clone(est).get_params()
    assert params == est.get_params()
    assert params["epochs"] == 3 and params["dropout"] == 0.2 and params["layers"] == (8,)
    assert "y_range" in params if cls is TabularRegressor else "y_range" not in params


def test_estimator_types():
    assert is_regressor(TabularRegressor()) and is_classifier(TabularClassifier())


def test_pipeline_and_grid_search(data):
    X, _ = data
    y = reg_target(X)
    pipe = make_pipeline(FunctionTransformer(lambda d: d.assign(num=d["num"] * 2)), fast(TabularRegressor))
    assert pipe.fit(X, y).predict(X).shape == (len(X),)
    grid = GridSearchCV(fast(TabularRegressor), {"epochs": [1, 6]}, cv=2).fit(X, y)
    assert grid.best_params_ == {"epochs": 6}
    assert grid.best_estimator_.epochs == 6 and grid.best_estimator_.layers == (32, 16)


def test_cross_val_score_treats_the_classifier_as_a_classifier(data):
    X, _ = data
    y = clf_target(X)
    scores = cross_val_score(fast(TabularClassifier, epochs=6), X, y, cv=3)
    # accuracy (the classifier default) on string labels: a regressor's R^2 would fail here
    assert ((scores >= 0) & (scores <= 1)).all() and scores.mean() > 0.7


@pytest.mark.parametrize("which", ["fitted_reg", "fitted_clf"])
def test_joblib_round_trip(which, data, request):
    est = request.getfixturevalue(which)
    _, X_test = data
    buf = io.BytesIO()
    joblib.dump(est, buf)
    buf.seek(0)
    back = joblib.load(buf)
    np.testing.assert_array_equal(back.predict(X_test), est.predict(X_test))
    if which == "fitted_clf":
        np.testing.assert_array_equal(back.predict_proba(X_test), est.predict_proba(X_test))
        np.testing.assert_array_equal(back.classes_, est.classes_)


# >>> targets
def test_regressor_learns(fitted_reg, data):
    _, X_test = data
    y_test = reg_target(X_test)
    rmse = np.sqrt(np.mean((fitted_reg.predict(X_test) - y_test) ** 2))
    assert rmse < 0.5 * y_test.std()


def test_multi_output_regression(data):
    X, X_test = data
    Y = np.column_stack([reg_target(X), -3 * X["num"].to_numpy() + 10])
    reg = fast(TabularRegressor, epochs=8).fit(X, Y)
    pred = reg.predict(X_test)
    assert reg.n_outputs_ == 2 and pred.shape == (len(X_test), 2)
    Y_test = np.column_stack([reg_target(X_test), -3 * X_test["num"].to_numpy() + 10])
    for j in range(2):
        assert np.corrcoef(pred[:, j], Y_test[:, j])[0, 1] > 0.8
    assert pred[:, 1].mean() == pytest.approx(10, abs=1.5)  # the target's own scale is restored


@pytest.mark.parametrize("scale", [1e-200, 1e200])
def test_regressor_target_scale_neither_overflows_nor_underflows(data, scale):
    # y.std() squares y: inf at 1e200 (and 0 at 1e-200, replaced by 1), and the net then saw a
    # target of two values: predictions took two distinct values for every row.
    X, _ = data
    y = reg_target(X)
    reg = fast(TabularRegressor, epochs=8).fit(X, y * scale)
    assert reg.y_std_[0] == pytest.approx(np.std(y) * scale, rel=1e-9)
    pred = reg.predict(X) / scale
    assert len(np.unique(pred)) > len(X) // 2 and np.corrcoef(pred, y)[0, 1] > 0.9


def test_regressor_predictions_stay_in_the_seen_range(fitted_reg, data):
    _, X_test = data
    far = X_test.assign(num=X_test["num"] * 1e3)
    pred = fitted_reg.predict(far)
    assert (pred >= fitted_reg.y_min_[0]).all() and (pred <= fitted_reg.y_max_[0]).all()


def test_binary_string_labels(fitted_clf, data):
    _, X_test = data
    y_test = clf_target(X_test)
    assert list(fitted_clf.classes_) == ["no", "yes"]
    proba = fitted_clf.predict_proba(X_test)
    assert proba.shape == (len(X_test), 2)
    # float64 rows that sum to 1 (float32 ones were off by 2e-7, which sklearn's log_loss warns about)
    assert proba.dtype == np.float64 and np.abs(proba.sum(axis=1) - 1).max() < 1e-12
    assert (fitted_clf.predict(X_test) == y_test).mean() > 0.8
    # proba columns follow classes_: P(yes) is higher on the rows that are "yes"
    assert proba[y_test == "yes", 1].mean() > proba[y_test == "no", 1].mean() + 0.3


def test_multiclass_string_labels_in_sorted_order(data):
    X, X_test = data

    def bins(d):
        return np.array(["zeta", "alpha", "mid"])[np.digitize(d["num"].to_numpy(), [-0.5, 0.5])]

    clf = fast(TabularClassifier, epochs=10).fit(X, bins(X))
    assert list(clf.classes_) == ["alpha", "mid", "zeta"]
    proba = clf.predict_proba(X_test)
    assert proba.shape == (len(X_test), 3)
    assert (clf.predict(X_test) == bins(X_test)).mean() > 0.7
    # column j is the probability of classes_[j]
    assert (clf.classes_[proba.argmax(axis=1)] == clf.predict(X_test)).all()


def test_integer_labels_keep_their_values(data):
    X, X_test = data
    y = np.where(clf_target(X) == "yes", 5, -1)
    clf = fast(TabularClassifier).fit(X, y)
    assert list(clf.classes_) == [-1, 5]
    assert set(clf.predict(X_test)) <= {-1, 5}


@pytest.mark.parametrize("cls", [TabularRegressor, TabularClassifier])
def test_same_random_state_same_predictions(cls, data):
    X, X_test = data
    y = reg_target(X) if cls is TabularRegressor else clf_target(X)
    a = fast(cls, epochs=3, random_state=7).fit(X, y)
    b = fast(cls, epochs=3, random_state=7).fit(X, y)
    c = fast(cls, epochs=3, random_state=8).fit(X, y)
    out = (lambda e: e.predict(X_test)) if cls is TabularRegressor else (lambda e: e.predict_proba(X_test))
    np.testing.assert_array_equal(out(a), out(b))
    assert not np.array_equal(out(a), out(c))


def test_fit_leaves_the_global_torch_rng_alone(data):
    X, _ = data
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    fast(TabularRegressor, epochs=1).fit(X, reg_target(X))
    assert torch.equal(torch.rand(3), expected)


# >>> input rules
def test_missing_column_at_predict_names_it(fitted_reg, data):
    _, X_test = data
    with pytest.raises(ValueError, match="'color'"):
        fitted_reg.predict(X_test.drop(columns="color"))
    with pytest.raises(ValueError, match="'num2'"):
        fitted_reg.predict(X_test.drop(columns="num2").iloc[:1])  # the one-row path too


def test_extra_and_reordered_columns(fitted_reg, data):
    _, X_test = data
    base = fitted_reg.predict(X_test)
    shuffled = X_test[list(reversed(X_test.columns))].assign(extra=1.0, junk="x")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no feature-name warnings either
        np.testing.assert_array_equal(fitted_reg.predict(shuffled), base)
        # the one-row path (float32 matmul of 1 row vs 80 may differ in the last bits)
        np.testing.assert_allclose(fitted_reg.predict(shuffled.iloc[:1]), base[:1], rtol=1e-5)


def test_a_pyarrow_table_keeps_its_column_names(fitted_reg, data):
    # Found in review: a pyarrow Table (scikit-learn reads its names) went through np.asarray and
    # lost them: read by position, a table with its columns in another order was misread
    # silently, and a net fitted on one had columns 0, 1, ...
    pa = pytest.importorskip("pyarrow")
    X, X_test = data
    base = fitted_reg.predict(X_test)
    shuffled = pa.Table.from_pandas(X_test[list(reversed(X_test.columns))], preserve_index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no feature-name warnings either
        np.testing.assert_allclose(fitted_reg.predict(shuffled), base, rtol=1e-6)
        np.testing.assert_allclose(fitted_reg.predict(shuffled.slice(0, 1)), base[:1], rtol=1e-5)
    reg = fast(TabularRegressor, epochs=1, n_bags=1).fit(pa.Table.from_pandas(X), reg_target(X))
    assert list(reg.feature_names_in_) == list(X.columns)


@pytest.mark.parametrize("tuples", [False, True])
def test_non_string_names_in_another_order_are_selected_by_name(data, tuples):
    # Int or tuple names go by position (scikit-learn's rule), and a reordered frame was misread.
    X, X_test = data
    names = [("g", c) for c in X.columns] if tuples else list(range(10, 10 + X.shape[1]))
    rename = (
        (lambda f: f.set_axis(pd.MultiIndex.from_tuples(names), axis=1))
        if tuples
        else (lambda f: f.set_axis(names, axis=1))
    )
    reg = fast(TabularRegressor, n_bags=1).fit(rename(X), reg_target(X))
    base = reg.predict(rename(X_test))
    np.testing.assert_array_equal(reg.predict(rename(X_test).iloc[:, ::-1]), base)
    np.testing.assert_allclose(reg.predict(rename(X_test).iloc[:1, ::-1]), base[:1], rtol=1e-5)  # one row
    np.testing.assert_array_equal(reg.predict(X_test.to_numpy(dtype=object)), base)  # arrays: by position
    with pytest.raises(ValueError, match="X has 6 features"):  # extra columns are not guessed at
        reg.predict(pd.concat([rename(X_test), X_test[["num"]]], axis=1))


def test_mixed_column_names_are_refused_at_fit_and_extra_ones_selected_by_name(fitted_reg, data):
    # Mixed str and int names went by position: a reordered frame was misread silently, a one-row
    # Series was refused, and the exported encoder could not transform the training frame.
    X, X_test = data
    mixed = X.assign(**{"7": 1.0}).rename(columns={"7": 7})
    from tabdl import EntityEmbeddingEncoder

    for model in (fast(TabularRegressor), EntityEmbeddingEncoder()):  # the encoder raised sklearn's TypeError
        with pytest.raises(ValueError, match="mixes string and other column names.*astype"):
            model.fit(mixed, reg_target(X))
    extra = X_test.assign(z=1.0).rename(columns={"z": 0})[[0, *reversed(X_test.columns)]]
    np.testing.assert_array_equal(fitted_reg.predict(extra), fitted_reg.predict(X_test))


def test_a_fitted_column_twice_is_named_at_fit_and_predict(fitted_reg, data):
    # At predict the batch path failed with "'DataFrame' object has no attribute 'dtype'", and
    # the one-row path used one of the two copies, silently.
    X, X_test = data
    with pytest.raises(ValueError, match="'num' more than once"):
        fast(TabularRegressor).fit(pd.concat([X, X[["num"]]], axis=1), reg_target(X))
    twice = pd.concat([X_test, 100 * X_test[["num"]]], axis=1)
    for rows in (twice, twice.iloc[:1]):
        with pytest.raises(ValueError, match="'num' more than once"):
            fitted_reg.predict(rows)
    # An extra column twice is no harm: only the fitted ones are read.
    junk = X_test[["num"]].set_axis(["junk"], axis=1)
    extra = pd.concat([X_test, junk, junk], axis=1)
    np.testing.assert_array_equal(fitted_reg.predict(extra), fitted_reg.predict(X_test))


@pytest.mark.parametrize("cls", [TabularRegressor, TabularClassifier])
def test_empty_X_raises(cls):
    with pytest.raises(ValueError, match="empty|0 sample"):
        fast(cls).fit(frame().iloc[:0], np.array([]))


@pytest.mark.parametrize("cls", [TabularRegressor, TabularClassifier])
def test_no_columns_says_the_shape_of_X(cls):
    X = frame()  # the shape of X, not of the training part the validation cut left (was (54, 0) of (60, 0))
    with pytest.raises(ValueError, match=rf"0 feature\(s\) \(shape=\({len(X)}, 0\)\)"):
        fast(cls).fit(X[[]], np.arange(len(X)) % 2)


def test_object_labels_that_scikit_learn_cannot_type_say_what_they_hold():
    # pd.Series([True, False, None]).dropna() keeps object dtype; type_of_target calls it
    # "unknown", and the error now says what the array holds and how to convert it.
    X = frame()
    y = pd.Series([True, False, None] * len(X)).dropna().iloc[: len(X)]
    with pytest.raises(ValueError, match=r"an object array of bool: convert it, e.g. y.astype\(bool\)"):
        fast(TabularClassifier).fit(X, y)
    fast(TabularClassifier, epochs=1).fit(X, y.astype(bool))  # as advised


def test_a_column_named_nan_is_refused_at_fit(data):
    # Found in review: NaN != NaN, so a reordered frame holding a column named NaN (an unstack or
    # a pivot over a key holding NaN) was read by position, and one-row predict failed.
    X, y = data
    X = X.set_axis([np.nan, *X.columns[1:]], axis=1)
    with pytest.raises(ValueError, match="X has a column named NaN"):
        fast(TabularRegressor).fit(X, reg_target(data[0]))


@pytest.mark.parametrize("cls", [TabularRegressor, TabularClassifier])
def test_nan_in_y_raises(cls, data):
    X, _ = data
    y = reg_target(X) if cls is TabularRegressor else clf_target(X).astype(object)
    y[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fast(cls).fit(X, y)


def test_one_class_raises(data):
    X, _ = data
    with pytest.raises(ValueError, match="2 classes"):
        fast(TabularClassifier).fit(X, np.full(len(X), "only"))


def test_one_row_predict_equals_batch_predict(fitted_reg, fitted_clf, data):
    _, X_test = data
    X_odd = X_test.copy()
    X_odd.loc[X_odd.index[0], "num2"] = np.nan  # missing value
    X_odd["color"] = X_odd["color"].astype(object)
    X_odd.loc[X_odd.index[1], "color"] = "purple"  # unseen category
    X_odd.loc[X_odd.index[2], "color"] = None  # missing category
    batch_r, batch_p = fitted_reg.predict(X_odd), fitted_clf.predict_proba(X_odd)
    for i in range(6):
        row = X_odd.iloc[[i]]
        np.testing.assert_allclose(fitted_reg.predict(row), batch_r[i : i + 1], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(fitted_clf.predict_proba(row), batch_p[i : i + 1], rtol=1e-5, atol=1e-6)


def test_a_dict_is_one_row_or_a_table(fitted_clf, data):
    # {column: value} (a JSON request) failed with "an array with 0 dims".
    from tabdl import EntityEmbeddingEncoder

    _, X_test = data
    row = X_test.iloc[3].to_dict()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no feature-name warning: a dict names its columns
        np.testing.assert_allclose(fitted_clf.predict_proba(row), fitted_clf.predict_proba(X_test.iloc[[3]]), rtol=1e-6)
        np.testing.assert_array_equal(
            fitted_clf.predict_proba(X_test.iloc[:5].to_dict("list")), fitted_clf.predict_proba(X_test.iloc[:5])
        )
        # JSON records, keys in any order: rows by name ("Expected 2D array" before).
        records = [dict(reversed(list(r.items()))) for r in X_test.iloc[:5].to_dict("records")]
        np.testing.assert_array_equal(fitted_clf.predict_proba(records), fitted_clf.predict_proba(X_test.iloc[:5]))
    # Lists beside scalars are a table, as pandas reads the dict (the scalars broadcast).
    mixed = {**row, "num": [row["num"], 0.0]}
    np.testing.assert_array_equal(fitted_clf.predict_proba(mixed), fitted_clf.predict_proba(pd.DataFrame(mixed)))
    assert fitted_clf.predict_proba(mixed).shape == (2, 2)
    # A tuple is a category value (a row's one tuple does not make the dict a table).
    rows = pd.DataFrame({"num": [0.1, 0.2, 0.3, 0.4], "color": [("a", 1), "red", ("a", 1), "blue"]})
    reg = fast(TabularRegressor, epochs=1, validation_fraction=None, cat_features=["color"]).fit(
        rows, [1.0, 2.0, 3.0, 4.0]
    )
    np.testing.assert_allclose(reg.predict({"num": 0.1, "color": ("a", 1)}), reg.predict(rows.iloc[[0]]), rtol=1e-6)
    enc = fitted_clf.embedding_encoder()
    assert isinstance(enc, EntityEmbeddingEncoder)
    np.testing.assert_array_equal(enc.transform(row), enc.transform(X_test.iloc[[3]]))


def test_a_series_row_is_one_row_whatever_the_column_names(data):
    # df.iloc[i] of a frame with int names (read_csv(header=None)) or tuple names (a MultiIndex
    # after groupby().agg()) was a width error: only scikit-learn's string names were looked at.
    X, X_test = data
    y = reg_target(X)
    for names in (list(range(X.shape[1])), [("f", c) for c in X.columns], list(X.columns)):
        Xn, Xt = X.set_axis(names, axis=1), X_test.set_axis(names, axis=1)
        reg = fast(TabularRegressor).fit(Xn, y)
        np.testing.assert_array_equal(reg.predict(Xt.iloc[3]), reg.predict(Xt.iloc[[3]]))
        assert reg.predict(Xt.iloc[3]).shape == (1,)
    # A model of one int-named column reads a Series of many values as that column, not one row.
    one = fast(TabularRegressor).fit(X[["num"]].set_axis([0], axis=1), y)
    assert one.predict(pd.Series([0.1, 0.2, 0.3])).shape == (3,)
    # Found in review: one fitted on a named Series (X["num"]) warned, predicting from one, that X
    # "does not have valid feature names" and read it by position, whatever its name.
    named = fast(TabularRegressor).fit(X["num"], y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(named.predict(X_test["num"]), named.predict(X_test[["num"]]))
    with pytest.raises(ValueError, match=r"missing column\(s\) \['num'\]"):
        named.predict(X_test["num2"])


def test_numpy_input_works_by_position(data):
    X, _ = data
    A = X[["num", "num2"]].to_numpy()
    reg = fast(TabularRegressor).fit(A, reg_target(X))
    assert not hasattr(reg, "feature_names_in_") and reg.n_features_in_ == 2
    assert reg.predict(A[:5]).shape == (5,)
    with pytest.raises(ValueError, match="2 features"):
        reg.predict(A[:, :1])


# >>> training practice through the estimators
def test_history_columns_and_metrics(data):
    X, _ = data
    clf = fast(TabularClassifier, epochs=3, metrics=["roc_auc", "accuracy"]).fit(X, clf_target(X))
    cols = set(clf.history_.columns)
    assert {"train_loss", "train_loss_smooth", "valid_loss", "lr", "roc_auc", "accuracy"} <= cols
    assert len(clf.history_) == 3
    assert clf.history_["roc_auc"].between(0, 1).all()


def test_early_stopping_restores_best_epoch(data):
    X, X_test = data
    y = reg_target(X)
    y_bad = -reg_target(X_test)  # a validation set that only gets worse as the model learns
    reg = fast(TabularRegressor, epochs=15, patience=2, n_bags=1).fit(X, y, eval_set=(X_test, y_bad))
    hist = reg.history_
    assert len(hist) < 15
    assert reg.best_epoch_ == int(hist["valid_loss"].idxmin()) + 1
    # the model kept is the best epoch's: its validation MSE (scaled units) is the minimum
    pred = reg._raw(X_test).numpy()[:, 0]
    mse = np.mean((pred - (y_bad - reg.y_mean_[0]) / reg.y_std_[0]) ** 2)
    assert mse == pytest.approx(hist["valid_loss"].min(), rel=1e-4)
    # patience stops a continued cycle too (fit_one_cycle / fine_tune with an eval_set)
    reg.fit_one_cycle(X, y, epochs=15, eval_set=(X_test, y_bad))
    assert len(hist) < len(reg.history_) < len(hist) + 15


def test_patience_without_a_validation_part_says_it_has_nothing_to_watch(data):
    X, _ = data
    with pytest.warns(UserWarning, match=r"patience=2 .* no validation part: every epoch runs"):
        reg = fast(TabularRegressor, epochs=4, patience=2, n_bags=1, validation_fraction=None).fit(X, reg_target(X))
    assert len(reg.history_) == 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # with a validation part: no warning
        fast(TabularRegressor, epochs=2, patience=2, n_bags=1).fit(X, reg_target(X))


def test_metrics_without_a_validation_part_say_they_have_nothing_to_score(data):
    # metrics=["rmse"] with validation_fraction=None once left history_ without an rmse column,
    # and said nothing.
    X, _ = data
    with pytest.warns(
        UserWarning, match=r"metrics \['rmse'\] are scored on the validation part, and this fit has none"
    ):
        reg = fast(TabularRegressor, epochs=2, metrics=["rmse"], n_bags=1, validation_fraction=None).fit(
            X, reg_target(X)
        )
    assert "rmse" not in reg.history_
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # with a validation part: no warning, and the column
        assert "rmse" in fast(TabularRegressor, epochs=2, metrics=["rmse"], n_bags=1).fit(X, reg_target(X)).history_


def test_a_continued_cycle_without_eval_set_says_patience_and_metrics_have_nothing_to_read(data):
    # patience's doc promises the warning for fit_one_cycle / fine_tune too; a continued cycle
    # never cuts a validation part, and patience and metrics were ignored there without a word.
    X, X_test = data
    y = reg_target(X)
    reg = fast(TabularRegressor, epochs=2, patience=1, metrics=["rmse"], n_bags=1).fit(X, y)
    for cycle in (lambda: reg.fit_one_cycle(X, y, epochs=2), lambda: reg.fine_tune(X, y, epochs=1)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cycle()
        texts = [str(w.message) for w in caught]
        # fine_tune's frozen phase does not repeat what its unfrozen phase says
        assert len(texts) == 2, texts
        assert texts[0].startswith("patience=1 watches the validation loss, and this cycle has no validation part")
        assert texts[1].startswith("metrics ['rmse'] are scored on the validation part, and this cycle has none")
    assert reg.history_["rmse"].iloc[2:].isna().all()
    # after a fit with no validation part either, history_ has no column to hold NaN
    unscored = fast(TabularRegressor, epochs=1, metrics=["rmse"], n_bags=1, validation_fraction=0)
    with pytest.warns(UserWarning, match="history_ holds no column for them"):
        unscored.fit(X, y)
    with pytest.warns(UserWarning, match=r"this cycle has none .*: history_ holds no column for them"):
        unscored.fit_one_cycle(X, y, epochs=1)
    assert "rmse" not in unscored.history_
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # with an eval_set: no warning
        reg.fit_one_cycle(X, y, epochs=1, eval_set=(X_test, reg_target(X_test)))


def test_best_epoch_of_a_continued_cycle_is_numbered_as_history_is(data):
    # best_epoch_ once counted from the cycle's own start while history_ numbers epochs across
    # cycles: after a continued cycle it pointed at a row of the first fit.
    X, X_test = data
    y, y_test = reg_target(X), reg_target(X_test)
    reg = fast(TabularRegressor, epochs=3).fit(X, y)
    reg.fit_one_cycle(X, y, epochs=3, lr=1e-3, eval_set=(X_test, y_test))
    last = reg.history_.iloc[3:]
    assert reg.best_epoch_ == int(last.loc[last["valid_loss"].idxmin(), "epoch"]) > 3


def test_continued_training_and_lr_find_refuse_bad_counts(fitted_reg, data):
    # fit_one_cycle(epochs=1.7) trained 1 epoch silently; lr_find(num_it=2) blamed a divergence.
    X, _ = data
    y = reg_target(X)
    with pytest.raises(ValueError, match="epochs must be a positive int, got 1.7"):
        fitted_reg.fit_one_cycle(X, y, epochs=1.7)  # refused before any training
    with pytest.raises(ValueError, match="num_it must be an int >= 3"):
        fitted_reg.lr_find(X, y, num_it=2)


def test_fine_tune_on_new_data_widens_the_prediction_clip_range():
    # Predictions are clipped to the target range seen in training; fine_tune on data with
    # larger targets kept the first fit's range and capped every prediction at its maximum.
    rng = np.random.default_rng(0)

    def part(lo, hi, n=200):
        a = rng.uniform(lo, hi, n)
        return pd.DataFrame({"a": a, "b": rng.normal(size=n)}), a

    (X1, y1), (X2, y2) = part(0, 10), part(10, 20)
    reg = TabularRegressor(epochs=5, scaler="standard", layers=(32,), random_state=0).fit(X1, y1)
    reg.fine_tune(X2, y2, epochs=3)
    assert reg.y_min_[0] == y1.min() and reg.y_max_[0] == y2.max()
    assert reg.predict(X2).max() > y1.max() + 2
    with pytest.raises(ValueError, match="inf"):
        reg.fine_tune(X2, np.where(y2 > 15, np.inf, y2))


def test_fine_tune_changes_the_model_and_grows_history(data):
    X, X_test = data
    y = reg_target(X)
    reg = fast(TabularRegressor, epochs=2).fit(X, y)
    before = {k: v.clone() for k, v in reg.model_.state_dict().items()}
    pred = reg.predict(X_test)
    n_hist = len(reg.history_)
    reg.fine_tune(X, y, epochs=2, freeze_epochs=1, lr=slice(1e-4, 1e-2))
    after = reg.model_.state_dict()
    assert len(reg.history_) == n_hist + 3
    assert reg.history_["epoch"].tolist() == list(range(1, n_hist + 4))
    assert not np.array_equal(reg.predict(X_test), pred)
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert all(p.requires_grad for p in reg.model_.parameters())  # unfrozen afterwards


def test_fine_tune_defaults_follow_the_estimator(fitted_reg, data, monkeypatch):
    # lr=None was refused (fit_one_cycle takes it as the estimator's lr), and so was
    # freeze_epochs=None where 0 skipped the frozen phase.
    X, _ = data
    reg = copy.deepcopy(fitted_reg).set_params(lr=3e-3)
    cycles = []
    monkeypatch.setattr(reg, "fit_one_cycle", lambda X, y, **kw: cycles.append(kw) or reg)
    reg.interrupted_ = False
    reg.fine_tune(X, reg_target(X), epochs=1)
    assert [c["lr"] for c in cycles] == [3e-3, slice(3e-5, 3e-3)]
    cycles.clear()
    reg.set_params(lr=slice(1e-5, 1e-3)).fine_tune(X, reg_target(X), epochs=1, freeze_epochs=None)
    assert [c["lr"] for c in cycles] == [slice(1e-5, 1e-3)]
    with pytest.raises(ValueError, match="^freeze_epochs must be a positive int"):
        reg.fine_tune(X, reg_target(X), freeze_epochs=-1)


@pytest.mark.parametrize(
    "kw",
    [
        dict(epochs=0),
        dict(epochs=2.5),
        dict(freeze_epochs=-1),
        dict(lr=slice(0, 1e-2)),
        dict(lr=slice(1e-4, 1e-2, 2)),
        dict(lr=float("inf")),
    ],
)
def test_a_refused_fine_tune_leaves_the_model_as_it_was(fitted_reg, data, kw):
    # The frozen phase trained before the unfrozen one checked epochs and lr: the call raised
    # with the model already changed.
    X, X_test = data
    reg = copy.deepcopy(fitted_reg)
    before, rows = reg.predict(X_test), len(reg.history_)
    with pytest.raises(ValueError, match="epochs|lr"):
        reg.fine_tune(X, reg_target(X), **kw)
    np.testing.assert_array_equal(reg.predict(X_test), before)
    assert len(reg.history_) == rows


@pytest.mark.parametrize(
    "params",
    [
        dict(batch_size=0),
        dict(patience="2"),
        dict(weight_decay=-1.0),
        dict(threshold=2.0),
        dict(threshold=0.3, multiclass=True),
    ],
)
def test_continued_training_checks_the_parameters_fit_checks(data, params):
    # set_params after fit reached the cycle unchecked: a bare ZeroDivisionError, or a float cut
    # on three classes that never predicted the third.
    X, X_test = data
    params = dict(params)
    y = np.digitize(X["num"].to_numpy(), [-0.5, 0.5]) if params.pop("multiclass", False) else clf_target(X)
    clf = fast(TabularClassifier, epochs=1).fit(X, y)
    before, rows = clf.predict_proba(X_test), len(clf.history_)
    clf.set_params(**params)
    name = next(iter(params))
    for call in (lambda: clf.fit_one_cycle(X, y, epochs=1), lambda: clf.fine_tune(X, y, epochs=1)):
        with pytest.raises(ValueError, match=name):
            call()
        np.testing.assert_array_equal(clf.predict_proba(X_test), before)
        assert len(clf.history_) == rows


def test_an_error_inside_a_continued_cycle_keeps_the_fitted_model(data):
    # The weights had moved mid-cycle while history_ and loss_curve_ said nothing happened.
    X, X_test = data
    y = clf_target(X)
    clf = fast(TabularClassifier, epochs=2).fit(X, y)
    before, rows, curve = clf.predict_proba(X_test), len(clf.history_), len(clf.loss_curve_)
    calls = []

    def flaky(y_true, output):
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("metric failed")
        return 0.0

    clf.set_params(metrics=[flaky])
    for call in (
        lambda: clf.fit_one_cycle(X, y, epochs=3, eval_set=(X, y)),
        lambda: clf.fine_tune(X, y, epochs=3, freeze_epochs=1, eval_set=(X, y)),
    ):
        calls.clear()
        with pytest.raises(ValueError, match="metric failed"):
            call()
        np.testing.assert_array_equal(clf.predict_proba(X_test), before)
        assert (len(clf.history_), len(clf.loss_curve_)) == (rows, curve)
        assert all(p.requires_grad for p in clf.model_.parameters())  # the frozen phase froze a copy


def test_fine_tune_without_a_frozen_phase_unfreezes(data):
    # freeze_epochs=0 after freeze() trained the head alone.
    X, _ = data
    y = reg_target(X)
    reg = fast(TabularRegressor, epochs=1).fit(X, y)
    before = {k: v.clone() for k, v in reg.model_.state_dict().items()}
    reg.freeze().fine_tune(X, y, epochs=1, freeze_epochs=0)
    assert all(p.requires_grad for p in reg.model_.parameters())
    after = reg.model_.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert any(not k.startswith("head") for k in moved), moved


def test_fine_tune_with_new_classes_swaps_the_head(fitted_clf, data):
    X, _ = data
    clf = clone(fitted_clf).fit(X, clf_target(X))
    three = np.array(["a", "b", "c"])[np.digitize(X["num"].to_numpy(), [-0.5, 0.5])]
    clf.fine_tune(X, three, epochs=1, freeze_epochs=1)
    assert list(clf.classes_) == ["a", "b", "c"]
    assert clf.predict_proba(X.iloc[:4]).shape == (4, 3)


def test_continued_training_on_the_classes_as_text_is_refused(data):
    # int classes continued on "0"/"1" from a CSV got a fresh head for "new" classes, silently.
    X, X_test = data
    as_ints = (clf_target(X) == "yes").astype(int)
    clf = fast(TabularClassifier, epochs=2).fit(X, as_ints)
    before = clf.predict_proba(X_test)
    as_text = as_ints.astype(str)
    with pytest.raises(ValueError, match=r"y holds '0' \(text\), another spelling .* classes are number, such as 0"):
        clf.fit_one_cycle(X, as_text, epochs=1)
    with pytest.raises(ValueError, match="convert y to that type"):
        clf.fine_tune(X, as_text, epochs=1)
    np.testing.assert_array_equal(clf.predict_proba(X_test), before)
    assert clf.classes_.tolist() == [0, 1]
    # Other spellings of the same labels: float classes from a CSV's "0.0", flags as "0"/"1".
    for labels, text in ((as_ints.astype(float), as_ints.astype(float).astype(str)), (as_ints.astype(bool), as_text)):
        clf = fast(TabularClassifier, epochs=1).fit(X, labels)
        with pytest.raises(ValueError, match="convert y to that type"):
            clf.fit_one_cycle(X, text, epochs=1)
    # Text both ways: "1.0" where the classes hold "1" is the same label respelled, not a new class.
    clf = fast(TabularClassifier, epochs=1).fit(X, as_text)
    with pytest.raises(ValueError, match=r"y holds '1.0' \(text\), another spelling .* map y's labels onto classes_"):
        clf.fit_one_cycle(X, np.where(as_ints == 1, "1.0", "0"), epochs=1)
    clf.fit_one_cycle(X, np.where(as_ints == 1, "2", as_text), epochs=1)  # a new label: a new head
    assert clf.classes_.tolist() == ["0", "2"]


def test_fine_tune_on_rows_lacking_a_class_keeps_the_head(data):
    # New rows without one of the classes once got a fresh head and a classes_ without it: the
    # model could never predict that class again.
    X, _ = data
    three = np.array(["a", "b", "c"])[np.digitize(X["num"].to_numpy(), [-0.5, 0.5])]
    clf = fast(TabularClassifier, epochs=2, n_bags=1).fit(X, three)
    rows = three != "a"
    classes, n_out = clf.classes_, clf.model_config_["n_out"]
    clf.fine_tune(X[rows], three[rows], epochs=1, freeze_epochs=1)
    assert clf.classes_ is classes and clf.model_config_["n_out"] == n_out == 3  # the new-head path sets both
    assert clf.predict_proba(X.iloc[:4]).shape == (4, 3)


def test_freeze_through_the_estimator(data):
    X, _ = data
    y = reg_target(X)
    reg = fast(TabularRegressor, epochs=1).fit(X, y)
    emb = reg.model_.embeds.tables[0].weight.detach().clone()
    reg.freeze().fit_one_cycle(X, y, epochs=1)
    assert torch.equal(emb, reg.model_.embeds.tables[0].weight)
    reg.unfreeze().fit_one_cycle(X, y, epochs=1)
    assert not torch.equal(emb, reg.model_.embeds.tables[0].weight)


def test_lr_find_and_plots(fitted_reg, data):
    import matplotlib.pyplot as plt
    from matplotlib.axes import Axes

    X, _ = data
    y = reg_target(X)
    unfitted = fast(TabularRegressor)
    result = unfitted.lr_find(X, y, num_it=40)
    assert not hasattr(unfitted, "model_")  # probing does not fit the estimator
    assert len(result.lrs) == len(result.losses) >= 3
    assert result.lrs[0] <= result.suggestion <= result.lrs[-1]
    assert isinstance(result.plot(), Axes)

    before = {k: v.clone() for k, v in fitted_reg.model_.state_dict().items()}
    fitted_reg.lr_find(X, y, num_it=20)
    after = fitted_reg.model_.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)

    assert isinstance(fitted_reg.plot_losses(), Axes)
    plt.close("all")


def test_lr_find_says_when_the_loss_never_fell(data):
    # On a fitted model the curve only rises: .suggestion came back as start_lr, silently.
    X, _ = data
    y = reg_target(X)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="lr_find")
        fast(TabularRegressor).lr_find(X, y, num_it=40)
    fitted = fast(TabularRegressor, epochs=20, validation_fraction=None).fit(X, y)
    with pytest.warns(UserWarning, match="never fell.*this fitted model is likely at its minimum") as rec:
        result = fitted.lr_find(X, y, num_it=40)
    assert result.suggestion <= result.lrs[len(result.lrs) // 10] and rec[0].filename == __file__


def test_device_auto_resolves(fitted_reg):
    assert fitted_reg.device_ == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_a_device_this_machine_lacks_is_a_clear_error(data):
    # It was an AssertionError from deep inside model.to() ("Torch not compiled with CUDA").
    X, _ = data
    with pytest.raises(ValueError, match="device 'cuda' is not available"):
        fast(TabularRegressor, device="cuda").fit(X, reg_target(X))


def test_verbose_zero_prints_nothing(data, capfd):
    X, _ = data
    fast(TabularRegressor, epochs=2, verbose=0).fit(X, reg_target(X))
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    fast(TabularRegressor, epochs=2, verbose=1).fit(X, reg_target(X))
    assert capfd.readouterr().err != ""  # the tqdm bar, so the check above can fail


@pytest.mark.parametrize(
    "param, value",
    [
        ("epochs", 0),
        ("dropout", 1.5),
        ("layers", "wide"),
        ("validation_fraction", 1.0),
        ("lr", -1.0),
        # These were a bare TypeError, or accepted: batchnorm="no" turned BatchNorm on, an inf
        # weight decay "diverged" with advice about the LR, a 0-wide embedding dropped every
        # continuous input.
        ("layers", 5),
        ("layers", (64, True)),
        ("batchnorm", "no"),
        ("weight_decay", float("inf")),
        ("lr", float("nan")),
        ("num_embeddings", {"kind": "periodic", "d_embedding": 0}),
        ("num_embeddings", {"kind": "periodic", "sigma": -0.1}),
        ("num_embeddings", {"kind": "piecewise", "n_bins": 0}),
        ("layers", iter([16, 8])),  # an iterator was used up by the check: a net without layers
        ("lr", 10**400),  # an OverflowError from float()
        ("lr", slice(float("nan"), 1e-2)),  # slices of inf or NaN "diverged" at the first batch
        ("lr", slice(1e-3, float("inf"))),
        ("y_range", 5),  # a TypeError from unpacking
        ("y_range", (0.0, float("inf"))),  # fitted, then "diverged"
        ("verbose", "yes"),
        ("verbose", -1),
    ],
)
def test_bad_params_raise_at_fit_naming_them(param, value, data):
    X, _ = data
    est = fast(TabularRegressor, **{param: value})  # __init__ accepts anything
    with pytest.raises(ValueError, match=param):
        est.fit(X, reg_target(X))


def test_batch_size_1_is_refused_where_a_batchnorm_layer_sees_one_row(data):
    # BatchNorm failed inside torch: "Expected more than 1 value per channel when training".
    # Members (n_members >= 2) give it k rows, and continued training asks the fitted net.
    X, _ = data
    X, y = X.iloc[:40], reg_target(X.iloc[:40])
    plain = fast(TabularRegressor, batch_size=1, batchnorm=False, n_members=1, epochs=1).fit(X, y)
    assert np.isfinite(plain.predict(X.iloc[:5])).all()
    fast(TabularRegressor, batch_size=1, batchnorm=True, n_members=2, epochs=1).fit(X, y)
    one_row = fast(TabularRegressor, batch_size=1, batchnorm=True, n_members=1)
    for call in ("fit", "lr_find"):
        with pytest.raises(ValueError, match="batch_size=1 cannot train .* batchnorm=False or n_members >= 2"):
            getattr(one_row, call)(X, y)
    plain.set_params(batchnorm=True).fit_one_cycle(X, y, epochs=1)  # its net has no BatchNorm
    fast(TabularRegressor, batch_size=1, batchnorm=True, n_members=1, layers=(), epochs=1).fit(X, y)  # nor this one
    normalised = fast(TabularRegressor, batch_size=2, batchnorm=True, n_members=1, epochs=1).fit(X, y)
    normalised.set_params(batch_size=1, batchnorm=False)
    for call in (normalised.fit_one_cycle, normalised.fine_tune, normalised.lr_find):
        with pytest.raises(ValueError, match="batch_size=1 cannot train"):
            call(X, y)


@pytest.mark.parametrize(
    "bad_eval, match",
    [
        (
            lambda X, y: (X.iloc[:20], np.where(np.arange(20) == 3, np.nan, y[:20])),
            "eval_set: y contains NaN",
        ),
        (lambda X, y: (X.iloc[:20], y[:10]), "eval_set: X and y have inconsistent"),
        (lambda X, y: (X.iloc[:20].drop(columns="num"),), "pair"),
        (lambda X, y: (X.iloc[:20].drop(columns="num"), y[:20]), "eval_set: X is missing column.*'num'"),
        (lambda X, y: (X.iloc[:20, :3].to_numpy(), y[:20]), "eval_set: X has 3 features"),
        (lambda X, y: (X.iloc[:1], y[:1]), "eval_set: 1 row is too few to validate on"),  # not "training needs"
        (lambda X, y: [(X.iloc[:20], y[:20]), (X.iloc[20:40], y[20:40])], "validates on one set"),
    ],
)
def test_bad_eval_set_raises(bad_eval, match, fitted_reg, data):
    X, _ = data
    y = reg_target(X)
    with pytest.raises(ValueError, match=match):
        fast(TabularRegressor).fit(X, y, eval_set=bad_eval(X, y))
    with pytest.raises(ValueError, match=match):
        fitted_reg.fit_one_cycle(X, y, eval_set=bad_eval(X, y))


def test_lightgbms_eval_set_spelling_a_list_of_one_pair_is_that_pair(data):
    # eval_set=[(X_valid, y_valid)], as LightGBM and XGBoost take it, was refused as no pair.
    X, X_test = data
    y, y_test = reg_target(X), reg_target(X_test)
    pair = fast(TabularRegressor, epochs=2).fit(X, y, eval_set=(X_test, y_test))
    listed = fast(TabularRegressor, epochs=2).fit(X, y, eval_set=[(X_test, y_test)])
    np.testing.assert_array_equal(listed.history_["valid_loss"], pair.history_["valid_loss"])
    # A list [X, y] of a tuple of rows and a tuple of labels stays the pair it always was.
    rows, labels = tuple(map(tuple, X_test.to_numpy(dtype=object))), tuple(y_test)
    as_tuples = fast(TabularRegressor, epochs=2).fit(X, y, eval_set=[rows, labels])
    np.testing.assert_array_equal(as_tuples.history_["valid_loss"], pair.history_["valid_loss"])


def test_an_eval_set_array_is_matched_by_position_as_predict_does(data):
    # fit(eval_set=(array, y)) on a frame fit failed with "X is missing column(s) [...]"
    # (no eval_set prefix; the columns were there, unnamed); predict and fit_one_cycle took it.
    X, X_test = data
    y, y_test = reg_target(X), reg_target(X_test)
    by_name = fast(TabularRegressor, epochs=3).fit(X, y, eval_set=(X_test, y_test))
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        by_position = fast(TabularRegressor, epochs=3).fit(X, y, eval_set=(X_test.to_numpy(dtype=object), y_test))
    np.testing.assert_array_equal(by_position.history_["valid_loss"], by_name.history_["valid_loss"])
    np.testing.assert_array_equal(by_position.predict(X_test), by_name.predict(X_test))


def test_refused_continued_training_leaves_the_fitted_model_as_it_was(fitted_clf, data):
    # New classes swapped in a fresh head before the eval_set (or the training frame) was
    # checked: a refused call left 3 classes and an untrained head behind.
    X, X_test = data
    clf = copy.deepcopy(fitted_clf)
    before = clf.predict_proba(X_test)
    y3 = np.where(np.arange(len(X)) % 7 == 0, "maybe", clf_target(X))
    bad_calls = [
        (X, y3, (X_test.drop(columns="num"), clf_target(X_test)), "eval_set: X is missing"),
        (X, y3, (X_test, np.full(len(X_test), "never")), "eval_set: y holds labels not seen"),
        (X.drop(columns="num2"), y3, None, "missing column"),
    ]
    for Xc, yc, ev, match in bad_calls:
        with pytest.raises(ValueError, match=match):
            clf.fit_one_cycle(Xc, yc, epochs=1, eval_set=ev)
        assert clf.classes_.tolist() == ["no", "yes"] and clf.model_config_["n_out"] == 2
        np.testing.assert_array_equal(clf.predict_proba(X_test), before)
    # 2-D labels too: the head was swapped before torch refused them.
    for Xc, yc, ev in (
        (X, np.column_stack([y3, y3]), None),
        (X, y3, (X_test, np.column_stack([clf_target(X_test)] * 2))),
    ):
        with pytest.raises(ValueError, match="needs a 1-D"):
            clf.fit_one_cycle(Xc, yc, epochs=1, eval_set=ev)
        assert clf.classes_.tolist() == ["no", "yes"] and clf.model_config_["n_out"] == 2
    # Labels the new head will know are fine in the eval_set.
    clf.fit_one_cycle(X, y3, epochs=1, eval_set=(X_test.iloc[:5], np.array(["maybe", "no", "yes", "no", "no"])))
    assert clf.classes_.tolist() == ["maybe", "no", "yes"]


def test_labels_of_mixed_or_other_types_are_named_not_a_numpy_type_error(data):
    # An object y of ints and text (Excel, JSON) and eval_set labels of another type than the
    # training ones (read from a CSV) raised numpy's "'<' not supported between int and str".
    X, X_test = data
    mixed = np.array([1 if v == "yes" else "b" for v in clf_target(X)], dtype=object)
    for y in (mixed, pd.Series(mixed), mixed[::-1].copy()):
        with pytest.raises(ValueError, match="y mixes (text and number|number and text) labels"):
            fast(TabularClassifier).fit(X, y)
    with pytest.raises(ValueError, match="y mixes (text and bytes|bytes and text) labels"):
        fast(TabularClassifier).fit(X, np.array(["no" if v == "no" else b"yes" for v in clf_target(X)], dtype=object))
    fitted = fast(TabularClassifier, epochs=1).fit(X, clf_target(X))
    with pytest.raises(ValueError, match="y mixes"):  # continued training too (np.unique raised)
        fitted.fit_one_cycle(X, mixed, epochs=1)
    # Bool classes meet 0/1 labels as Python compares them (pandas' index keeps them apart).
    flags = clf_target(X) == "yes"
    as_bool = fast(TabularClassifier, epochs=1).fit(
        X, flags, eval_set=(X_test, (clf_target(X_test) == "yes").astype(int))
    )
    assert as_bool.classes_.tolist() == [False, True]
    as_ints = (clf_target(X) == "yes").astype(int)
    as_text = np.where(clf_target(X_test) == "yes", "1", "0")
    for y, yv, kind in (
        (as_ints, pd.Series(as_text), "numbers, such as 0"),
        (as_ints, as_text.astype(object), "numbers, such as 0"),
        (clf_target(X), (clf_target(X_test) == "yes").astype(int), "text, such as 'no'"),
    ):
        with pytest.raises(ValueError, match=f"eval_set: y holds labels not seen at fit.*the classes are {kind}"):
            fast(TabularClassifier).fit(X, y, eval_set=(X_test, yv))


def test_metric_names_that_would_share_a_history_column_are_refused(data):
    # Two lambdas kept one "<lambda>" column, and a callable named valid_loss replaced the loss
    # that picks the best epoch and the restored weights.
    from functools import partial

    from sklearn.metrics import fbeta_score

    X, _ = data

    def valid_loss(y_true, y_pred):
        return 0.0

    for metrics, says in (
        ([lambda t, p: 0.0, lambda t, p: 1.0], "'<lambda>' names two metrics"),
        ([partial(fbeta_score, beta=2), partial(fbeta_score, beta=1)], "names two metrics"),
        ([valid_loss], "'valid_loss' names a column history_ already holds"),
    ):
        with pytest.raises(ValueError, match=says):
            fast(TabularRegressor, metrics=metrics).fit(X, reg_target(X))


def test_a_refused_refit_leaves_the_fitted_model_as_it_was(fitted_reg, fitted_clf, data):
    # _setup replaced the target stats, classes and feature names before the checks that can
    # still refuse a refit: the old net was then read through the new stats (predictions x1000).
    X, X_test = data
    reg, clf = copy.deepcopy(fitted_reg), copy.deepcopy(fitted_clf)
    before_reg, before_clf = reg.predict(X_test), clf.predict(X_test)
    with pytest.raises(ValueError, match="eval_set"):
        reg.fit(X, 1000 * reg_target(X) + 5000, eval_set=(X_test.drop(columns="num"), reg_target(X_test)))
    with pytest.raises(ValueError, match="eval_set"):
        clf.fit(X, (X["num"] > 0).astype(int), eval_set=(X_test, np.full(len(X_test), 7)))
    np.testing.assert_array_equal(reg.predict(X_test), before_reg)
    np.testing.assert_array_equal(clf.predict(X_test), before_clf)
    assert clf.classes_.tolist() == ["no", "yes"]
    # A 2-D eval y failed inside torch after training had started.
    with pytest.raises(ValueError, match="eval_set: TabularClassifier needs a 1-D y"):
        clf.fit(X, clf_target(X), eval_set=(X_test, np.column_stack([clf_target(X_test)] * 2)))
    # The encoder and MatrixFactorization keep their fit too.
    from tabdl import EntityEmbeddingEncoder

    enc = EntityEmbeddingEncoder(
        estimator_params=dict(epochs=1, layers=(8,)), min_category_count=3, random_state=0
    ).fit(X, reg_target(X))
    out = enc.transform(X_test)
    bad_y = reg_target(X)
    bad_y[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        enc.fit(X.rename(columns={"num": "other"}), bad_y)
    np.testing.assert_array_equal(enc.transform(X_test), out)
    # Continued training refused for its eval_set keeps the target range it had.
    y_max = reg.y_max_.copy()
    with pytest.raises(ValueError, match="eval_set"):
        reg.fit_one_cycle(X, 10 * reg_target(X), epochs=1, eval_set=(X_test, np.column_stack([reg_target(X_test)] * 2)))
    np.testing.assert_array_equal(reg.y_max_, y_max)


def test_object_array_with_odd_values_fits_and_predicts():
    rng = np.random.default_rng(0)
    A = rng.uniform(size=(60, 3)).astype(object)
    A[0, 0] = {"foo": "bar"}  # unhashable: column 0 becomes categorical, the rest stay numbers
    reg = fast(TabularRegressor, validation_fraction=None).fit(A, rng.normal(size=60))
    assert reg.preprocessor_.cat_names_ == [0] and reg.preprocessor_.cont_names_ == [1, 2]
    assert reg.predict(A).shape == (60,)


def test_one_row_frame_skips_the_batch_transform(fitted_clf, data, monkeypatch):
    _, X_test = data
    expected = fitted_clf.predict_proba(X_test.iloc[[3]])

    def no_batch(X):
        raise AssertionError("the one-row path called the batch transform")

    monkeypatch.setattr(fitted_clf.preprocessor_, "transform", no_batch)
    np.testing.assert_array_equal(fitted_clf.predict_proba(X_test.iloc[[3]]), expected)
    with pytest.raises(AssertionError, match="batch transform"):
        fitted_clf.predict_proba(X_test.iloc[:2])


def test_y_range_bounds_predictions(data):
    X, X_test = data
    y = np.clip(reg_target(X), -1, 4)
    reg = fast(TabularRegressor, epochs=4, y_range=(-1.5, 4.5), n_bags=1).fit(X, y)
    assert isinstance(reg.model_.head[-1], torch.nn.Module) and reg.model_config_["y_range"]
    raw = reg._unscale(reg._raw(X_test.assign(num=X_test["num"] * 100)).numpy())
    assert (raw >= -1.5 - 1e-6).all() and (raw <= 4.5 + 1e-6).all()
    with pytest.raises(ValueError, match="y_range"):
        fast(TabularRegressor, y_range=(3, 1)).fit(X, y)
    with pytest.raises(ValueError, match="y_range"):
        fast(TabularRegressor, y_range=(0, 1)).fit(X, np.column_stack([y, y]))
    arr = fast(TabularRegressor, epochs=1, y_range=np.array([-1.5, 4.5]), n_bags=1).fit(X, y)  # arrays too
    assert arr.model_config_["y_range"] == reg.model_config_["y_range"]
    # A range narrower than the data pinned predictions at its bounds without a word.
    with pytest.warns(UserWarning, match=r"y_range=\(0, 1\) leaves out \d+\.\d% of the training targets"):
        fast(TabularRegressor, y_range=(0, 1)).fit(X, y)


@pytest.mark.parametrize(
    "cls, metrics, match",
    [
        (TabularClassifier, ["rmse"], "'rmse' is a regression metric"),
        (TabularRegressor, ["roc_auc"], "'roc_auc' is a classification metric"),
        (TabularRegressor, ["nope"], "unknown metric 'nope'"),
        (TabularRegressor, "rmse", r"metrics=\['rmse'\]"),
    ],
)
def test_metrics_of_the_wrong_task_fail_before_training(cls, metrics, match, data):
    X, _ = data
    y = reg_target(X) if cls is TabularRegressor else clf_target(X)
    est = fast(cls, metrics=metrics)
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)
    assert not hasattr(est, "model_")


def test_a_failing_callable_metric_is_named_with_what_it_was_given(data):
    # sklearn's roc_auc_score takes P(class 1), not the (n, 2) probabilities: the error said
    # "y should be a 1d array" and named no metric.
    from sklearn.metrics import roc_auc_score

    X, _ = data
    with pytest.raises(ValueError, match=r"metric 'roc_auc_score' failed .*output of shape \(\d+, 2\)"):
        fast(TabularClassifier, metrics=[roc_auc_score]).fit(X, clf_target(X))


def test_regression_metrics_are_in_target_units(data):
    X, _ = data
    y = reg_target(X) * 1000
    reg = fast(TabularRegressor, epochs=3, metrics=["rmse", "mae"]).fit(X, y)
    last = reg.history_.iloc[-1]
    # valid_loss is the MSE of standardised targets; rmse is in the target's own units
    assert last["rmse"] > 10 * np.sqrt(last["valid_loss"])
    assert last["mae"] <= last["rmse"]


def test_plot_losses_without_validation_and_after_fine_tune(data):
    import matplotlib.pyplot as plt
    from matplotlib.axes import Axes

    X, _ = data
    y = reg_target(X)
    reg = fast(TabularRegressor, validation_fraction=None).fit(X, y)
    assert "valid_loss" not in reg.history_.columns
    ax = reg.plot_losses()
    assert isinstance(ax, Axes) and len(ax.lines) == 2  # raw and smoothed train loss
    reg.fine_tune(X, y, epochs=1, freeze_epochs=1, eval_set=(X.iloc[:50], y[:50]))
    ax = reg.plot_losses()
    assert len(ax.lines[0].get_xdata()) == len(reg.loss_curve_)
    plt.close("all")


def test_validation_points_sit_at_each_epochs_last_batch_across_cycles(data):
    # plot_losses put epoch k at k x (batches / epochs): after a cycle on a table of another size
    # (another number of batches per epoch) the points landed on the wrong batches.
    import matplotlib.pyplot as plt

    X, X_test = data
    reg = fast(TabularRegressor, epochs=2, batch_size=32).fit(X, reg_target(X))
    first = len(reg.loss_curve_)
    big = pd.concat([X] * 3, ignore_index=True)
    reg.fit_one_cycle(big, reg_target(big), epochs=2, eval_set=(X_test, reg_target(X_test)))
    steps = reg.history_["step"].tolist()
    assert reg.history_["step"].dtype.kind == "i"  # a batch count, after the continued cycle too
    per_epoch = -(-len(big) // 32)
    assert steps[-2:] == [first + per_epoch, first + 2 * per_epoch] and steps[-1] == len(reg.loss_curve_)
    ax = reg.plot_losses()
    assert ax.lines[-1].get_xdata().tolist() == steps
    plt.close("all")


def test_a_history_saved_before_step_keeps_its_points_after_another_cycle(data):
    # Its rows got step NaN when a new cycle was appended, and plot_losses dropped their points.
    import matplotlib.pyplot as plt

    X, X_test = data
    valid = (X_test, reg_target(X_test))
    reg = fast(TabularRegressor, epochs=2, batch_size=32).fit(X, reg_target(X), eval_set=valid)
    reg.history_ = reg.history_.drop(columns="step")  # as an older tabdl saved it
    first = len(reg.loss_curve_)
    reg.fit_one_cycle(X, reg_target(X), epochs=1, eval_set=valid)
    steps = reg.history_["step"].tolist()
    assert not np.isnan(steps).any()
    assert steps == [round(first / 2), first, first + first // 2] and reg.history_["step"].dtype.kind == "i"
    ax = reg.plot_losses()
    assert ax.lines[-1].get_xdata().tolist() == steps
    plt.close("all")


def test_average_weights_gives_another_model_and_is_validated(data):
    X, Xt = data
    for cls, target in ((TabularClassifier, clf_target), (TabularRegressor, reg_target)):
        on, off = (fast(cls, epochs=6, average_weights=v).fit(X, target(X)) for v in (True, False))
        out = "predict_proba" if cls is TabularClassifier else "predict"
        assert not np.allclose(getattr(on, out)(Xt), getattr(off, out)(Xt))
    with pytest.raises(ValueError, match="average_weights"):
        fast(TabularClassifier, average_weights="yes").fit(X, clf_target(X))


def test_epochs_auto_is_40_for_regressors_and_20_for_classifiers(data):
    X, _ = data
    reg = TabularRegressor(layers=(8,), n_members=1, random_state=0).fit(X.iloc[:64], reg_target(X.iloc[:64]))
    clf = TabularClassifier(layers=(8,), n_members=1, random_state=0).fit(X.iloc[:64], clf_target(X.iloc[:64]))
    assert (reg.epochs, len(reg.history_)) == ("auto", 40)
    assert (clf.epochs, len(clf.history_)) == ("auto", 20)
    for bad in ("long", "20", 0, 2.5):
        with pytest.raises(ValueError, match="epochs must be 'auto' or an int > 0"):
            TabularRegressor(epochs=bad).fit(X, reg_target(X))
    for bad in ("big", 0, 64.0):
        with pytest.raises(ValueError, match="batch_size must be 'auto' or an int > 0"):
            TabularRegressor(batch_size=bad).fit(X, reg_target(X))


def test_a_categorical_column_folded_whole_warns_once_named():
    # An ID-like column (every value rare) is folded into the unknown vector: right for the
    # net, but the user must hear that the column is ignored. A column that kept categories, or
    # that held no values at all, says nothing.
    rng = np.random.default_rng(0)
    n = 400
    X = pd.DataFrame(
        {
            "id": [f"row{i}" for i in range(n)],
            "grp": rng.choice(list("abc"), size=n),
            "empty": pd.Series([None] * n, dtype=object),
            "x": rng.normal(size=n),
        }
    )
    y = X["x"].to_numpy() + (X["grp"] == "a").to_numpy()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        TabularRegressor(epochs=1, random_state=0, n_bags=2).fit(X, y)
    folded = [w for w in caught if "shares the unknown vector" in str(w.message)]
    assert len(folded) == 1 and "['id']" in str(folded[0].message)
    assert "convert" not in str(folded[0].message)  # names, not numbers or dates stored as text
    # one value per row: a lower min_category_count would only memorise rows
    assert "['id'] hold a different value in every row (an id or free text): drop them" in str(folded[0].message)
    assert "Lower min_category_count" not in str(folded[0].message)
    assert folded[0].filename == __file__  # points at the caller, not inside tabdl
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TabularRegressor(epochs=1, random_state=0, n_bags=1).fit(X.drop(columns="id"), y)


@pytest.mark.parametrize("dtype", [object, "str", "category"])
def test_the_folded_whole_warning_advises_converting_only_numbers_and_dates_stored_as_text(dtype):
    rng = np.random.default_rng(0)
    n = 300
    X = pd.DataFrame(
        {
            "price": pd.Series([f"{v:.2f}" for v in rng.normal(100, 20, n)], dtype=dtype),
            "day": pd.Series([str(d.date()) for d in pd.date_range("2020-01-01", periods=n)], dtype=dtype),
            "name": pd.Series([f"customer {i}" for i in range(n)], dtype=dtype),
            "x": rng.normal(size=n),
        }
    )
    with pytest.warns(UserWarning, match="shares the unknown vector") as caught:
        TabularRegressor(epochs=1, random_state=0, n_bags=1).fit(X, X["x"].to_numpy())
    (msg,) = [str(w.message) for w in caught if "shares the unknown vector" in str(w.message)]
    assert "['price', 'day'] hold numbers or dates stored as text: convert them" in msg
    assert "['name'] hold a different value in every row" in msg and "Lower" not in msg


def test_a_seed_is_deterministic_on_the_cpu_only(monkeypatch):
    # CUDA's embedding backward adds with atomics: a seeded fit on a GPU does not repeat bit for bit.
    assert not TabularRegressor(random_state=0, device="cpu").__sklearn_tags__().non_deterministic
    assert TabularRegressor(random_state=0, device="cuda").__sklearn_tags__().non_deterministic
    assert TabularClassifier(device="cpu").__sklearn_tags__().non_deterministic  # no seed
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert TabularClassifier(random_state=0).__sklearn_tags__().non_deterministic  # "auto" picks the GPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert not TabularClassifier(random_state=0).__sklearn_tags__().non_deterministic


@pytest.mark.parametrize("dates", [["2020-01-01T12:00", "2020-05-05T12:00"], ["1500-01-01T12:00", "2020-05-05T12:00"]])
def test_a_zoned_date_category_reads_the_same_in_one_row_and_in_a_batch(dates):
    # Found in review (pandas 2.2): the one-row path converted zoned columns to UTC, so a
    # category fitted in Tokyo time read as unseen one row at a time; and keying dates from before
    # 1677 in a zone crashed the process (pandas 2.x boxing them out of the array).
    rng = np.random.default_rng(0)
    v = np.array(dates, dtype="datetime64[s]")[rng.integers(0, 2, 80)]
    X = pd.DataFrame({"t": pd.Series(v).dt.tz_localize("UTC").dt.tz_convert("Asia/Tokyo"), "f": rng.normal(size=80)})
    y = (X["t"].dt.year == 2020) * 3.0 + X["f"]
    reg = fast(TabularRegressor, n_bags=1, cat_features=["t"], min_category_count=1).fit(X, y)
    assert len(reg.preprocessor_.vocabs_[0]) == 2
    batch = reg.predict(X.head(6))
    one = np.array([reg.predict(X.iloc[[i]])[0] for i in range(6)])
    np.testing.assert_allclose(one, batch, rtol=1e-5, atol=1e-5)


def test_json_records_must_name_the_same_columns(fitted_clf, data):
    # Found in review: a record that lacked a key its neighbours had was filled with NaN by
    # pandas and predicted as a missing value without a word, while one such dict (or records
    # that all lack the key) is refused as "X is missing column(s)".
    _, X_test = data
    records = X_test.iloc[:3].to_dict("records")
    del records[1]["num"]
    with pytest.raises(ValueError, match=r"record 1 lacks \['num'\]"):
        fitted_clf.predict_proba(records)
    records[1]["nmu"] = 0.5  # a misspelt key
    with pytest.raises(ValueError, match=r"record 1 lacks \['num'\] and adds \['nmu'\]"):
        fitted_clf.predict_proba(records)
    records[1] = {**X_test.iloc[1].to_dict(), "num": None}  # None is a missing value, named
    assert fitted_clf.predict_proba(records).shape == (3, 2)
