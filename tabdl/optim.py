"""Optimizers the stock torch ones lack.

``LazyAdamW``: AdamW that, for a parameter with a sparse gradient (``nn.Embedding(sparse=True)``),
updates only the rows the batch touched. The cost of a step then follows the batch, not the
table: matrix factorisation over a large catalogue otherwise spends most of its time moving
Adam's moments for rows that saw no rating. Dense parameters get plain AdamW. Untouched rows
keep their moments and get no weight decay (TensorFlow's LazyAdam; torch's SparseAdam, which
has no weight decay and refuses dense parameters).
"""

from __future__ import annotations

import torch

__all__ = ["LazyAdamW"]


class LazyAdamW(torch.optim.Optimizer):
    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        if not 0.0 <= lr or not 0.0 <= eps or not 0.0 <= weight_decay:
            raise ValueError(f"invalid lr={lr}, eps={eps} or weight_decay={weight_decay}")
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                bc1, bc2 = 1 - b1 ** state["step"], 1 - b2 ** state["step"]
                m, v, g = state["exp_avg"], state["exp_avg_sq"], p.grad
                if g.is_sparse:
                    g = g.coalesce()  # one row per touched index, duplicates summed
                    rows, g = g.indices()[0], g.values()
                    m_r = m.index_select(0, rows).lerp_(g, 1 - b1)
                    v_r = v.index_select(0, rows).mul_(b2).addcmul_(g, g, value=1 - b2)
                    m.index_copy_(0, rows, m_r)
                    v.index_copy_(0, rows, v_r)
                    p_r = p.index_select(0, rows)
                    if wd:
                        p_r.mul_(1 - lr * wd)
                    p_r.addcdiv_(m_r, v_r.div_(bc2).sqrt_().add_(eps), value=-lr / bc1)
                    p.index_copy_(0, rows, p_r)
                else:
                    m.lerp_(g, 1 - b1)
                    v.mul_(b2).addcmul_(g, g, value=1 - b2)
                    if wd:
                        p.mul_(1 - lr * wd)
                    p.addcdiv_(m, (v / bc2).sqrt_().add_(eps), value=-lr / bc1)
        return loss
