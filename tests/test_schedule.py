import math

import numpy as np
import pytest

from tabdl.schedule import cos_anneal, one_cycle_lr, one_cycle_mom

TOTAL, MAX_LR = 201, 0.01
WARM = round(TOTAL * 0.25)  # 50 warm-up steps; the anneal covers steps 50..200


def test_lr_start_peak_end():
    assert one_cycle_lr(0, TOTAL, MAX_LR) == pytest.approx(MAX_LR / 25)
    assert one_cycle_lr(WARM, TOTAL, MAX_LR) == pytest.approx(MAX_LR)
    assert one_cycle_lr(TOTAL - 1, TOTAL, MAX_LR) == pytest.approx(MAX_LR / 1e5)


def test_lr_follows_half_cosines():
    lo, hi, end = MAX_LR / 25, MAX_LR, MAX_LR / 1e5
    half_up = lo + (hi - lo) * (1 - math.cos(math.pi * 0.5)) / 2
    assert one_cycle_lr(WARM // 2, TOTAL, MAX_LR) == pytest.approx(half_up)
    mid_anneal = WARM + (TOTAL - 1 - WARM) // 2
    assert one_cycle_lr(mid_anneal, TOTAL, MAX_LR) == pytest.approx((hi + end) / 2)
    lrs = np.array([float(one_cycle_lr(t, TOTAL, MAX_LR)) for t in range(TOTAL)])
    assert (np.diff(lrs[: WARM + 1]) > 0).all() and (np.diff(lrs[WARM:]) < 0).all()
    assert lrs.argmax() == WARM


def test_momentum_moves_against_the_lr():
    assert one_cycle_mom(0, TOTAL) == pytest.approx(0.95)
    assert one_cycle_mom(WARM, TOTAL) == pytest.approx(0.85)
    assert one_cycle_mom(TOTAL - 1, TOTAL) == pytest.approx(0.95)
    assert one_cycle_mom(WARM // 2, TOTAL) == pytest.approx(0.90)
    moms = np.array([one_cycle_mom(t, TOTAL) for t in range(TOTAL)])
    assert moms.argmin() == WARM


def test_custom_div_and_pct_start():
    total = 100
    assert one_cycle_lr(0, total, 1.0, div=10) == pytest.approx(0.1)
    assert one_cycle_lr(50, total, 1.0, pct_start=0.5) == pytest.approx(1.0)
    assert one_cycle_lr(total - 1, total, 1.0, div_final=100) == pytest.approx(0.01)


def test_array_max_lr_gives_one_lr_per_group():
    lrs = one_cycle_lr(0, TOTAL, np.array([1e-3, 1e-2]))
    np.testing.assert_allclose(lrs, [1e-3 / 25, 1e-2 / 25])


def test_cos_anneal_endpoints():
    assert cos_anneal(1.0, 3.0, 0.0) == pytest.approx(1.0)
    assert cos_anneal(1.0, 3.0, 1.0) == pytest.approx(3.0)


def test_short_schedules_stay_defined():
    assert one_cycle_lr(0, 1, MAX_LR) == pytest.approx(MAX_LR / 25)
    for total in (2, 3, 4):
        assert all(np.isfinite(one_cycle_lr(t, total, MAX_LR)) for t in range(total))
    with pytest.raises(ValueError):
        one_cycle_lr(0, 0, MAX_LR)


@pytest.mark.parametrize("total, pct_start", [(1, 0.0), (2, 0.25), (3, 0.25), (4, 0.75), (12, 0.25), (100, 0.25)])
def test_the_last_step_anneals_however_short_the_cycle(total, pct_start):
    # Found in review: when the anneal phase held one step (2 steps; 4 at pct_start=0.75) that
    # step sat at the peak LR, so the cycle's final weights came from its largest step; a lone
    # anneal step now sits halfway down (never at max_lr / 1e5, where it would not train).
    last = one_cycle_lr(total - 1, total, MAX_LR, pct_start=pct_start)
    warm = max(1, round(total * pct_start)) if pct_start > 0 else 0
    if total - warm == 1:
        assert last == pytest.approx((MAX_LR + MAX_LR / 1e5) / 2)
    else:
        assert last == pytest.approx(MAX_LR / 1e5)
    assert last < MAX_LR
