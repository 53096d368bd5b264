"""LR finder result and its suggestions (pure functions over the recorded curve)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["LRFindResult", "suggest_lrs"]


def suggest_lrs(lrs: np.ndarray, losses: np.ndarray) -> dict[str, float]:
    """Three readings of a (smoothed) LR-finder curve.

    - ``steepest``: the LR where the loss falls fastest per log-LR, before the minimum;
    - ``valley``: a point two thirds down the longest stretch of falling loss (after fastai's
      valley, which lands halfway down it), more robust to a noisy curve than the steepest point;
    - ``minimum``: the LR of the lowest loss divided by 10, the classic rule of thumb.
    """
    lrs, losses = np.asarray(lrs, dtype=float), np.asarray(losses, dtype=float)
    if len(lrs) < 3 or len(lrs) != len(losses):
        raise ValueError("suggest_lrs needs at least 3 points of equal-length lrs and losses")
    i_min = int(np.nanargmin(losses))
    # The first tenth of the sweep is noise around the initial loss (LRs too small to move the
    # weights); a "steepest" point there suggests 1e-7. fastai skips it for the same reason.
    skip = min(len(losses) // 10, max(i_min - 1, 0))
    head = losses[skip : i_min + 1]
    if len(head) >= 2:
        slope = np.gradient(head, np.log(lrs[skip : i_min + 1]))
        steepest = float(lrs[skip + int(np.nanargmin(slope))])
    else:
        steepest = float(lrs[i_min])

    # Longest run of strictly falling loss (a longest-decreasing-subsequence by DP, O(n^2) is
    # fine for ~100 points); land two thirds of the way down it.
    n = len(losses)
    run, prev = np.ones(n, dtype=int), np.full(n, -1)
    for i in range(1, n):
        better = np.nonzero((losses[:i] > losses[i]) & (run[:i] + 1 > run[i]))[0]
        if better.size:
            j = better[np.argmax(run[better])]
            run[i], prev[i] = run[j] + 1, j
    end = int(np.argmax(run))
    start = end
    while prev[start] >= 0:
        start = prev[start]
    valley = float(lrs[start + int(round((end - start) * 2 / 3))])
    return {"steepest": steepest, "valley": valley, "minimum": float(lrs[i_min] / 10)}


@dataclass
class LRFindResult:
    lrs: np.ndarray
    losses: np.ndarray  # smoothed losses (EWMA started at the initial weights' training loss)
    raw_losses: np.ndarray
    suggestions: dict[str, float] = field(default_factory=dict)

    @property
    def suggestion(self) -> float:
        """The steepest-descent LR, the suggestion DESIGN.md names.

        On noisy curves it jumps: over 15 fits (5 tables x 3 seeds) it ranged 0.0009-0.115, and
        one net trained at it scored 1.046x the held-out error of the default ``lr=1e-2`` on
        average (worst 1.36x); ``valley`` scored 1.010x (worst 1.07x) and beat it on 11 of 15
        (``benchmarks/results/robustness.md``). Prefer ``valley`` when the curve is jagged.
        """
        return self.suggestions["steepest"]

    @property
    def valley(self) -> float:
        return self.suggestions["valley"]

    @property
    def minimum(self) -> float:
        return self.suggestions["minimum"]

    def plot(self, ax=None):
        from .plotting import plot_lr_find

        return plot_lr_find(self, ax=ax)

    def __repr__(self) -> str:
        s = ", ".join(f"{k}={v:.3g}" for k, v in self.suggestions.items())
        return f"LRFindResult({len(self.lrs)} points; {s})"
