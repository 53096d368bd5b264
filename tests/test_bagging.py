"""n_bags: whole nets, each trained on its own validation cut, averaged (tabdl.ensemble.NetBag)."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

from tabdl import TabularClassifier, TabularRegressor
from tabdl.ensemble import MemberLoss, NetBag, out_of_bag
from tabdl.modules import TabularMLP

FAST = dict(epochs=2, layers=(16,), random_state=0)


def _frame(n=240, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "num": rng.normal(size=n),
            "cat": pd.Series(rng.choice(["a", "b", "c"], size=n), dtype="str"),
        }
    )
    X.loc[X.index[::13], "num"] = np.nan
    y = np.nan_to_num(X["num"].to_numpy()) + (X["cat"] == "a") + rng.normal(scale=0.3, size=n)
    return X, y


def _labels(y):
    return (y > np.median(y)).astype(int)


def test_auto_bags_small_tables_and_not_large_ones():
    est = TabularRegressor()
    assert [est._n_bags(n) for n in (300, 20_000, 43_000, 60_000, 262_000)] == [5, 5, 2, 1, 1]
    assert TabularRegressor(n_bags=3)._n_bags(10**6) == 3


@pytest.mark.parametrize("bad", [0, -1, 1.5, "many", True])
def test_bad_n_bags_names_the_parameter(bad):
    X, y = _frame(60)
    with pytest.raises(ValueError, match="n_bags"):
        TabularRegressor(n_bags=bad, **FAST).fit(X, y)


def test_each_net_has_its_own_cut_and_the_first_is_the_single_fit():
    X, y = _frame()
    bag = TabularRegressor(n_bags=3, **FAST).fit(X, y)
    one = TabularRegressor(n_bags=1, **FAST).fit(X, y)
    assert isinstance(bag.model_, NetBag) and len(bag.model_.nets) == 3 and bag.model_config_["n_bags"] == 3
    assert isinstance(one.model_, TabularMLP) and "n_bags" not in one.model_config_
    # net 0 of the bag is exactly the one-net fit (same cut, seed and preprocessing) ...
    for a, b in zip(bag.model_.nets[0].state_dict().values(), one.model_.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    # ... and the others differ, each having trained on another cut
    cuts = bag._cuts(y, 3, split=True)
    assert len({tuple(np.sort(va)) for _, va in cuts}) == 3
    w = [net.head[0].weight for net in bag.model_.nets]
    assert not torch.equal(w[0], w[1]) and not torch.equal(w[1], w[2])
    # the bag predicts the mean of its nets
    data = bag._encode_X(X)
    with torch.inference_mode():
        each = torch.stack([net.eval()(data.x_cat, data.x_cont) for net in bag.model_.nets])
    np.testing.assert_allclose(bag.predict(X), bag._to_output(each.mean(dim=0))[:, 0], rtol=1e-5, atol=1e-6)


def test_classifier_bag_averages_probabilities():
    X, y = _frame()
    clf = TabularClassifier(n_bags=3, **FAST).fit(X, _labels(y))
    data = clf._encode_X(X)
    with torch.inference_mode():
        p = torch.stack([torch.softmax(net(data.x_cat, data.x_cont), dim=1) for net in clf.model_.nets]).mean(0)
    np.testing.assert_allclose(clf.predict_proba(X), p.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(clf.predict_proba(X.iloc[[5]]), clf.predict_proba(X)[[5]], rtol=1e-5, atol=1e-6)


def test_out_of_bag_averages_in_probability_space():
    logits = [torch.log(torch.tensor([[0.9, 0.1], [0.2, 0.8]])), torch.log(torch.tensor([[0.5, 0.5]]))]
    rows, out = out_of_bag([(np.array([0, 2]), logits[0]), (np.array([0]), logits[1])], "proba")
    np.testing.assert_array_equal(rows, [0, 2])
    np.testing.assert_allclose(torch.softmax(out, dim=1).numpy(), [[0.7, 0.3], [0.2, 0.8]], rtol=1e-6)
    rows, out = out_of_bag(
        [(np.array([1, 0]), torch.tensor([[1.0], [3.0]])), (np.array([1]), torch.tensor([[2.0]]))], "mean"
    )
    np.testing.assert_array_equal(rows, [0, 1])
    np.testing.assert_allclose(out.numpy(), [[3.0], [1.5]])


def test_bag_saves_loads_and_pickles_to_identical_predictions(tmp_path):
    import tabdl

    X, y = _frame()
    clf = TabularClassifier(n_bags=2, **FAST).fit(X, _labels(y))
    clf.save(tmp_path / "bag.tabdl")
    back = tabdl.load(tmp_path / "bag.tabdl")
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    joblib.dump(clf, tmp_path / "bag.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "bag.joblib").predict_proba(X), clf.predict_proba(X))
    assert clone(clf).get_params()["n_bags"] == 2


def test_bag_trains_further_freezes_and_takes_new_classes():
    X, y = _frame()
    reg = TabularRegressor(n_bags=2, **FAST).fit(X, y)
    heads = [net.head[0].weight.detach().clone() for net in reg.model_.nets]
    bodies = [net.body[0][0].weight.detach().clone() for net in reg.model_.nets]
    reg.freeze().fit_one_cycle(X, y, epochs=1)
    for net, h, b in zip(reg.model_.nets, heads, bodies):
        assert torch.equal(net.body[0][0].weight, b)  # frozen in every net
        assert not torch.equal(net.head[0].weight, h)  # every net's head trained
    reg.unfreeze()
    assert all(p.requires_grad for p in reg.model_.parameters())
    # a classifier bag meeting a new class gives every net a new head
    clf = TabularClassifier(n_bags=2, **FAST).fit(X, _labels(y))
    three = np.where(y > np.quantile(y, 0.8), 2, _labels(y))
    clf.fine_tune(X, three, epochs=1, freeze_epochs=0)
    assert list(clf.classes_) == [0, 1, 2] and clf.predict_proba(X).shape == (len(X), 3)


@pytest.mark.parametrize("n_members", [1, 2])
def test_each_net_of_a_bag_gets_its_own_loss_gradient(n_members):
    # Training a fitted bag further trains each net on its own loss, as if it trained alone: the
    # member-averaged loss must not hand each net 1 / n_bags of its gradient (Adam's eps is not scale-free).
    X, y = _frame()
    reg = TabularRegressor(n_bags=3, n_members=n_members, dropout=0.0, **FAST).fit(X, y)  # no dropout draws
    data = reg._encode_X(X)
    target = torch.tensor(y, dtype=torch.float32).reshape(-1, 1)
    loss = MemberLoss(torch.nn.MSELoss())
    bag = reg.model_.train()
    bag.zero_grad()
    loss(bag(data.x_cat, data.x_cont), target).backward()
    together = [net.head[0].weight.grad.clone() for net in bag.nets]
    for net, g in zip(bag.nets, together):
        net.zero_grad()
        loss(net(data.x_cat, data.x_cont), target).backward()
        torch.testing.assert_close(g, net.head[0].weight.grad, rtol=1e-5, atol=1e-7)


def test_encoder_exports_the_first_net():
    X, y = _frame()
    bag = TabularRegressor(n_bags=3, cat_features=["cat"], min_category_count=3, **FAST).fit(X, y)
    one = TabularRegressor(n_bags=1, cat_features=["cat"], min_category_count=3, **FAST).fit(X, y)
    np.testing.assert_array_equal(bag.embedding_encoder().tables_[0], one.embedding_encoder().tables_[0])


def test_a_diverging_first_net_stops_the_bag():
    # Net 0 blows up: it is kept with its best weights, as a single fit keeps it, and no more
    # nets are trained at a learning rate that diverges (tests/test_training_guards.py covers a
    # later net that stops: it is dropped).
    X, y = _frame()
    with pytest.warns(UserWarning, match="diverged"):
        reg = TabularRegressor(n_bags=3, epochs=3, layers=(16,), lr=1e4, random_state=0).fit(X, y)
    assert reg.diverged_ and isinstance(reg.model_, TabularMLP)
    assert np.isfinite(reg.predict(X)).all()


def test_seeds_near_the_top_of_numpys_range_still_bag():
    X, y = _frame(60)
    reg = TabularRegressor(n_bags=2, epochs=1, layers=(8,), random_state=2**32 - 1).fit(X, y)
    assert len(reg.model_.nets) == 2


def test_consecutive_random_states_give_unrelated_bags():
    # Seeds seed_ + i made random_state s and s + 1 share four of five nets' cuts and seeds, so
    # repeats over consecutive seeds were far from independent.
    X, y = _frame()
    cuts, preds = {}, {}
    for rs in (0, 1):
        bag = TabularRegressor(**{**FAST, "random_state": rs, "n_bags": 5}).fit(X, y)
        cuts[rs] = {tuple(np.sort(va)) for _, va in bag._cuts(y, 5, split=True)}
        with torch.inference_mode():
            preds[rs] = [net(*bag.preprocessor_.transform(X)) for net in bag.model_.nets]
    assert len(cuts[0]) == len(cuts[1]) == 5 and not cuts[0] & cuts[1]
    assert not any(torch.equal(a, b) for a in preds[0] for b in preds[1])


@pytest.mark.parametrize("bad", [-1, 2**32])
def test_out_of_range_random_state_names_the_parameter(bad):
    X, y = _frame(60)
    with pytest.raises(ValueError, match="random_state must be"):
        TabularRegressor(**{**FAST, "random_state": bad}).fit(X, y)


def test_verbose_bag_labels_each_nets_progress_bar(capfd):
    X, y = _frame(60)
    TabularRegressor(**{**FAST, "n_bags": 2, "verbose": 1}).fit(X, y)
    err = capfd.readouterr().err
    assert "net 1/2" in err and "net 2/2" in err
    reg = TabularRegressor(**{**FAST, "n_bags": 1, "verbose": 1}).fit(X, y)
    err = capfd.readouterr().err
    assert "fit:" in err and "net 1/" not in err  # one net: the plain label
    reg.fine_tune(X, y, epochs=1, freeze_epochs=1)  # continued cycles say so, and which phase is frozen
    err = capfd.readouterr().err
    assert "fit_one_cycle (frozen):" in err and "fit_one_cycle:" in err and "fit:" not in err


def test_a_column_that_varies_only_in_the_first_nets_validation_rows_is_not_pinned():
    # The preprocessing is fitted on net 0's training rows, where the flag below is always 0,
    # so it was pinned as "constant at fit" for every net, though nets 1-2 trained on its 1s.
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=400), "flag": 0.0})
    params = dict(n_bags=3, epochs=2, layers=(16,), random_state=0, validation_fraction=0.2)
    _, cuts, _ = TabularRegressor(**params)._setup(X, X["x"].to_numpy(), None)
    hot = cuts[0][1][:20]  # rows net 0 holds out; the other nets train on some of them
    assert np.isin(hot, cuts[1][0]).any() and not np.isin(hot, cuts[0][0]).any()
    X.loc[hot, "flag"] = 1.0
    y = X["x"].to_numpy() + 10 * X["flag"].to_numpy()
    bag = TabularRegressor(**params).fit(X, y)
    flag = bag.preprocessor_.cont_names_.index("flag")
    assert "constant" not in bag.preprocessor_.stats_[flag]
    assert len(np.unique(bag.preprocessor_.transform(X)[1][:, flag].numpy())) == 2
    # One net trains on its own training rows only: there the flag never varied, so it is pinned.
    one = TabularRegressor(**{**params, "n_bags": 1}).fit(X, y)
    assert one.preprocessor_.stats_[flag].get("constant") is True
