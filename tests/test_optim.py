import pytest
import torch
from torch import nn

from tabdl.optim import LazyAdamW


def _pair(sparse: bool):
    torch.manual_seed(0)
    emb = nn.Embedding(10, 3, sparse=sparse)
    bias = nn.Parameter(torch.zeros(1))
    return emb, bias


def _step(emb, bias, opt, idx):
    loss = (emb(idx).sum(dim=1) + bias - 1.0).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()


def test_dense_parameters_follow_torch_adamw():
    kw = {"lr": 0.05, "betas": (0.9, 0.99), "eps": 1e-5, "weight_decay": 0.1}
    a_emb, a_bias = _pair(False)
    b_emb, b_bias = _pair(False)
    a = torch.optim.AdamW([a_emb.weight, a_bias], **kw)
    b = LazyAdamW([b_emb.weight, b_bias], **kw)
    for idx in (torch.tensor([1, 2, 2]), torch.tensor([3, 1]), torch.tensor([0, 9])):
        _step(a_emb, a_bias, a, idx)
        _step(b_emb, b_bias, b, idx)
    torch.testing.assert_close(b_emb.weight, a_emb.weight)
    torch.testing.assert_close(b_bias, a_bias)


def test_sparse_gradients_update_only_touched_rows():
    kw = {"lr": 0.05, "betas": (0.9, 0.99), "eps": 1e-5, "weight_decay": 0.1}
    dense_emb, dense_bias = _pair(False)
    emb, bias = _pair(True)
    before = emb.weight.detach().clone()
    opt = LazyAdamW([emb.weight, bias], **kw)
    idx = torch.tensor([1, 4, 4])  # a repeated row: its gradients add up
    _step(emb, bias, opt, idx)
    touched = torch.tensor([1, 4])
    untouched = torch.tensor([r for r in range(10) if r not in (1, 4)])
    torch.testing.assert_close(emb.weight[untouched], before[untouched])
    assert not torch.allclose(emb.weight[touched], before[touched])
    assert torch.all(opt.state[emb.weight]["exp_avg"][untouched] == 0)
    # On the first step the touched rows move exactly as dense AdamW moves them.
    ref = torch.optim.AdamW([dense_emb.weight, dense_bias], **kw)
    _step(dense_emb, dense_bias, ref, idx)
    torch.testing.assert_close(emb.weight[touched], dense_emb.weight[touched])
    torch.testing.assert_close(bias, dense_bias)


def test_weight_average_follows_the_warmed_up_decay_and_swaps_back():
    from tabdl.optim import WeightAverage

    lin = nn.Linear(1, 1, bias=False)
    frozen = nn.Parameter(torch.ones(1), requires_grad=False)
    lin.register_parameter("frozen", frozen)
    with torch.no_grad():
        lin.weight.fill_(0.0)
    avg = WeightAverage(lin, horizon=4)
    expected = 0.0
    for t, value in enumerate([1.0, 2.0, -1.0, 5.0, 3.0, 0.5], start=1):
        with torch.no_grad():
            lin.weight.fill_(value)
        avg.update()
        decay = min(1 - 1 / 4, (1 + t) / (10 + t))
        expected = decay * expected + (1 - decay) * value
    avg.swap_in()
    assert lin.weight.item() == pytest.approx(expected, rel=1e-6)
    avg.swap_in()  # a second swap_in must not stash the average as the live weights
    avg.swap_out()
    assert lin.weight.item() == 0.5  # the live weights are back
    assert len(avg.params) == 1  # frozen parameters are not averaged
