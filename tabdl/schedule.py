"""Pure schedule functions: the one-cycle policy (Leslie Smith) as fastai runs it.

The LR warms up from ``max_lr/div`` to ``max_lr`` over ``pct_start`` of the steps, then anneals
to ``max_lr/div_final``; both phases follow a half cosine. Momentum (Adam's beta1) moves the
opposite way: high while the LR is low, low while it is high.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["cos_anneal", "one_cycle_lr", "one_cycle_mom", "DEFAULT_MOMS"]

DEFAULT_MOMS = (0.95, 0.85, 0.95)


def cos_anneal(start, end, pct: float):
    """Half cosine from ``start`` (pct=0) to ``end`` (pct=1); works on floats and arrays."""
    return end + (start - end) / 2 * (1 + math.cos(math.pi * pct))


def _phase(step: int, total: int, pct_start: float) -> tuple[int, float]:
    """Which phase (0 warm-up, 1 anneal) step is in and how far through it (0..1)."""
    if total < 1:
        raise ValueError(f"total steps must be >= 1, got {total}")
    warm = max(1, round(total * pct_start)) if pct_start > 0 else 0
    if step < warm:
        return 0, step / warm
    rest = total - warm - 1
    if rest < 1:
        # One annealing step: halfway down, as fastai's continuous phase would place it. At the
        # peak, a 2-step cycle's weights came from its largest step; at the end (max_lr / 1e5),
        # a 1-step cycle with pct_start=0 did not train at all.
        return 1, 0.5
    return 1, min(1.0, (step - warm) / rest)


def one_cycle_lr(step: int, total: int, max_lr, *, div: float = 25.0, pct_start: float = 0.25, div_final: float = 1e5):
    """LR at ``step`` (0-based) of ``total``; ``max_lr`` may be an array (one per param group)."""
    max_lr = np.asarray(max_lr, dtype=np.float64)
    phase, pct = _phase(step, total, pct_start)
    if phase == 0:
        return cos_anneal(max_lr / div, max_lr, pct)
    return cos_anneal(max_lr, max_lr / div_final, pct)


def one_cycle_mom(
    step: int, total: int, *, moms: tuple[float, float, float] = DEFAULT_MOMS, pct_start: float = 0.25
) -> float:
    """Momentum (beta1) at ``step``: moms[0] -> moms[1] during warm-up, -> moms[2] after."""
    phase, pct = _phase(step, total, pct_start)
    if phase == 0:
        return cos_anneal(moms[0], moms[1], pct)
    return cos_anneal(moms[1], moms[2], pct)
