"""Training callbacks: small objects with hooks, so features never touch the loop itself.

Hooks (all optional): ``before_fit(learner)``, ``before_epoch(learner)``,
``after_batch(learner, loss)``, ``after_epoch(learner, logs)``, ``after_fit(learner)``.
A callback asks the learner to stop by setting ``learner.stop = True``.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from .learner import Learner

__all__ = ["Callback", "SmoothLoss", "Recorder", "EarlyStopping", "ProgressBar"]


class Callback:
    def before_fit(self, learner: Learner) -> None: ...
    def before_epoch(self, learner: Learner) -> None: ...
    def after_batch(self, learner: Learner, loss: float) -> None: ...
    def after_epoch(self, learner: Learner, logs: dict[str, Any]) -> None: ...
    def after_fit(self, learner: Learner) -> None: ...


class SmoothLoss:
    """Exponentially weighted moving average with bias correction (as in Adam).

    Without the correction the first values are pulled towards 0, the EWMA's starting point.
    ``start``: begin at this value instead, with no correction, so that one early outlier moves
    the average by only ``1 - beta`` of its size (the learner's divergence guard).
    """

    def __init__(self, beta: float = 0.98, start: float | None = None):
        self.beta = beta
        self.start = start
        self.reset()

    def reset(self) -> None:
        self.avg, self.count = (0.0, 0) if self.start is None else (float(self.start), None)

    def update(self, value: float) -> float:
        self.avg = self.beta * self.avg + (1 - self.beta) * value
        if self.count is None:
            return self.avg
        self.count += 1
        return self.avg / (1 - self.beta**self.count)


class Recorder(Callback):
    """Raw and smoothed batch losses, and one row of logs per epoch (``history``)."""

    def __init__(self, beta: float = 0.98):
        self.smoother = SmoothLoss(beta)
        self.losses: list[float] = []
        self.smooth_losses: list[float] = []
        self.rows: list[dict[str, Any]] = []

    def before_fit(self, learner: Learner) -> None:
        self.smoother.reset()

    def before_epoch(self, learner: Learner) -> None:
        self._start, self._epoch_sum, self._epoch_n = time.perf_counter(), 0.0, 0

    def after_batch(self, learner: Learner, loss: float) -> None:
        self.losses.append(loss)
        self.smooth_losses.append(self.smoother.update(loss))
        self._epoch_sum += loss
        self._epoch_n += 1

    # The columns every epoch's row holds besides the metrics (the learner adds epoch, lr and
    # valid_loss): a metric of one of these names would overwrite it.
    LOG_COLUMNS = ("epoch", "train_loss", "train_loss_smooth", "step", "time", "valid_loss", "lr")

    def epoch_logs(self) -> dict[str, Any]:
        return {
            "train_loss": self._epoch_sum / max(self._epoch_n, 1),
            # Batches run by the epoch's end (a point on the batch-loss curve): epochs of other
            # cycles hold other numbers of batches, and a diverged epoch's batches are on the curve.
            "step": len(self.losses),
            "train_loss_smooth": self.smooth_losses[-1] if self.smooth_losses else math.nan,
            "time": time.perf_counter() - self._start,
        }

    def after_epoch(self, learner: Learner, logs: dict[str, Any]) -> None:
        self.rows.append(dict(logs))

    @property
    def history(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)


def epoch_steps(history: pd.DataFrame, n_batches: int) -> np.ndarray:
    """Each epoch's last batch on the loss curve of ``n_batches``: the "step" column, or for rows
    saved before it (a model saved by an older tabdl) epochs of equal length, to the nearest batch."""
    even = np.rint(history["epoch"].to_numpy(dtype=float) * n_batches / max(len(history), 1)).astype(np.int64)
    if "step" not in history:
        return even
    steps = history["step"].to_numpy(dtype=float)
    return np.where(np.isnan(steps), even, steps).astype(np.int64)


class EarlyStopping(Callback):
    """Stop after ``patience`` epochs without improving the learner's monitored score.

    Restoring the best weights is the learner's job (it snapshots them for divergence and
    interrupts too), so this callback only decides when to stop.
    """

    def __init__(self, patience: int):
        self.patience = patience

    def after_epoch(self, learner: Learner, logs: dict[str, Any]) -> None:
        # During a warm-up the learner holds each warm-up epoch as its best, so patience counts
        # from the warm-up's end without a rule of its own.
        if learner.epoch - learner.best_epoch >= self.patience:
            learner.stop = True


class ProgressBar(Callback):
    """One tqdm bar over epochs, showing the last losses; batches stay off the bar for speed."""

    def __init__(self, desc: str = "fit"):
        self.desc = desc  # the bar's label (a bag of nets names each net's bar)

    def before_fit(self, learner: Learner) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=learner.n_epochs, desc=self.desc, unit="epoch", leave=False)

    def after_epoch(self, learner: Learner, logs: dict[str, Any]) -> None:
        shown = {k: f"{v:.4g}" for k, v in logs.items() if k not in ("epoch", "step", "time", "lr")}
        self.bar.set_postfix(shown, refresh=False)
        self.bar.update(1)

    def after_fit(self, learner: Learner) -> None:
        self.bar.close()
