import numpy as np
import pandas as pd
import pytest
import torch

from tabdl import TabularClassifier, TabularRegressor
from tabdl.ensemble import MemberLoss, reduce_members
from tabdl.modules import TabularMLP


def _mlp(k, reduce="mean", n_out=3):
    return TabularMLP(cardinalities=[4], emb_dims=[2], n_cont=3, n_out=n_out, layers=[8], k=k, reduce=reduce)


def test_members_in_training_and_their_mean_at_inference():
    torch.manual_seed(0)
    m = _mlp(4)
    x_cat, x_cont = torch.randint(0, 4, (5, 1)), torch.randn(5, 3)
    m.train()
    assert m(x_cat, x_cont).shape == (5, 4, 3)
    m.eval()
    out = m(x_cat, x_cont)
    assert out.shape == (5, 3)
    # The members differ (own scaling and head), so the ensemble is not one member repeated.
    m.train()
    m.body.eval()  # freeze BatchNorm stats/dropout to compare like with like
    members = m(x_cat, x_cont)
    assert not torch.allclose(members[:, 0], members[:, 1])


def test_proba_reduce_averages_probabilities():
    out = torch.randn(6, 5, 3)
    p = torch.softmax(reduce_members(out, "proba"), dim=1)
    torch.testing.assert_close(p, torch.softmax(out, dim=-1).mean(dim=1))


@pytest.mark.parametrize(
    "base,y", [(torch.nn.MSELoss(), torch.randn(4, 2)), (torch.nn.CrossEntropyLoss(), torch.tensor([0, 1, 1, 0]))]
)
def test_member_loss_is_the_mean_of_member_losses(base, y):
    out = torch.randn(4, 3, 2)
    expected = torch.stack([base(out[:, j], y) for j in range(3)]).mean()
    torch.testing.assert_close(MemberLoss(base)(out, y), expected)
    torch.testing.assert_close(MemberLoss(base)(out[:, 0], y), base(out[:, 0], y))


def _frame(n=300):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=n), "c": rng.choice(list("xyz"), size=n)})
    return X, X["a"].to_numpy() + (X["c"] == "y").to_numpy()


def test_ensemble_estimators_are_deterministic_and_fit():
    X, y = _frame()
    p1 = TabularRegressor(n_members=4, epochs=5, random_state=3).fit(X, y).predict(X)
    p2 = TabularRegressor(n_members=4, epochs=5, random_state=3).fit(X, y).predict(X)
    np.testing.assert_array_equal(p1, p2)
    assert np.sqrt(np.mean((p1 - y) ** 2)) < 0.5 * y.std()
    clf = TabularClassifier(n_members=4, epochs=5, random_state=0).fit(X, y > np.median(y))
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert clf.predict_proba(X.iloc[:1]).shape == (1, 2)


def test_fine_tune_on_new_classes_replaces_the_ensemble_head():
    X, y = _frame()
    clf = TabularClassifier(n_members=3, epochs=2, random_state=0).fit(X, y > 0)
    labels = np.digitize(y, [0, 1])  # three classes now
    clf.fine_tune(X, labels, epochs=1, freeze_epochs=1)
    assert clf.predict_proba(X).shape == (len(X), 3)


def test_n_members_is_validated_in_fit():
    X, y = _frame(30)
    reg = TabularRegressor(n_members=0)
    with pytest.raises(ValueError, match="n_members"):
        reg.fit(X, y)
