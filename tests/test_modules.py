import pandas as pd
import pytest
import torch

from tabdl.modules import Dropout, EntityEmbeddings, SigmoidRange, TabularMLP
from tabdl.preprocess import TabularPreprocessor, emb_size_rule


@pytest.mark.parametrize("n, size", [(2, 2), (10, 6), (1000, 77), (20_000, 410)])
def test_emb_size_rule_is_fastais(n, size):
    assert emb_size_rule(n) == size == min(600, round(1.6 * n**0.56))


def test_emb_size_rule_tops_out_at_600_without_the_param_cap():
    assert emb_size_rule(50_000, max_params=2**40) == 600


def test_emb_size_rule_caps_huge_tables():
    assert emb_size_rule(1_000_000) == 2**24 // 1_000_000  # 16 wide, not 600


def test_emb_sizes_default_and_override():
    X = pd.DataFrame({"a": list("xyz") * 4, "b": list("pq") * 6})
    pre = TabularPreprocessor(min_category_count=1).fit(X)
    assert pre.cardinalities_ == [4, 3]
    assert pre.emb_sizes() == [emb_size_rule(4), emb_size_rule(3)]
    assert pre.emb_sizes({"b": 7}) == [emb_size_rule(4), 7]
    with pytest.raises(ValueError, match="nope"):
        pre.emb_sizes({"nope": 3})
    with pytest.raises(ValueError, match="'a'"):
        pre.emb_sizes({"a": 0})


def test_entity_embeddings_one_table_per_column():
    emb = EntityEmbeddings([4, 3], [5, 2])
    assert [t.weight.shape for t in emb.tables] == [(4, 5), (3, 2)]
    out = emb(torch.tensor([[0, 2], [3, 1]]))
    assert out.shape == (2, 7) and emb.out_dim == 7
    assert torch.equal(out[0, :5], emb.tables[0].weight[0])  # code 0 = unknown row


def test_mlp_shapes_groups_and_y_range():
    torch.manual_seed(0)
    net = TabularMLP(
        cardinalities=[4, 3],
        emb_dims=[5, 2],
        n_cont=3,
        n_out=2,
        layers=(8, 4),
        dropout=0.1,
        emb_dropout=0.2,
        y_range=(-1.0, 2.0),
    )
    x_cat, x_cont = torch.randint(0, 3, (16, 2)), torch.randn(16, 3) * 100
    out = net(x_cat, x_cont)
    assert out.shape == (16, 2)
    assert (out >= -1).all() and (out <= 2).all()
    assert isinstance(net.head[-1], SigmoidRange)
    groups = net.layer_groups()
    assert groups == [net.embeds, net.body, net.head]
    n_params = sum(p.numel() for g in groups for p in g.parameters())
    assert n_params == sum(p.numel() for p in net.parameters())  # every weight is in a group
    net.eval()
    assert torch.equal(net(x_cat, x_cont), net(x_cat, x_cont))  # dropout off in eval


@pytest.mark.parametrize("n_cat, n_cont", [(0, 3), (2, 0)])
def test_mlp_without_categoricals_or_without_continuous(n_cat, n_cont):
    net = TabularMLP(cardinalities=[3] * n_cat, emb_dims=[2] * n_cat, n_cont=n_cont, n_out=1, layers=(4,))
    out = net(torch.zeros(5, n_cat, dtype=torch.int64), torch.randn(5, n_cont))
    assert out.shape == (5, 1)


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_dropout_keeps_1_minus_p_and_the_expectation(p):
    torch.manual_seed(0)
    y = Dropout(p).train()(torch.ones(400, 500))
    kept = y > 0
    # 200k draws: the keep rate's standard error is about 0.001.
    assert abs(kept.float().mean().item() - (1 - p)) < 0.005
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / (1 - p)))
    assert abs(y.mean().item() - 1.0) < 0.01
    # Every position draws its own bit: rows and columns are not repeated patterns.
    assert not torch.equal(kept[0], kept[1]) and not torch.equal(kept[:, 0], kept[:, 1])


def test_dropout_gradient_is_the_mask_and_seeded_masks_reproduce():
    x = torch.randn(64, 33, requires_grad=True)
    torch.manual_seed(1)
    y = Dropout(0.3).train()(x)
    y.sum().backward()
    assert torch.allclose(x.grad, (y != 0).float() / 0.7)
    torch.manual_seed(1)
    assert torch.equal(Dropout(0.3).train()(x), y)


def test_dropout_is_identity_in_eval_and_at_zero():
    x = torch.randn(5, 7)
    assert Dropout(0.5).eval()(x) is x
    assert Dropout(0.0).train()(x) is x
    with pytest.raises(ValueError, match="dropout"):
        Dropout(1.0)
