"""The training loop: index batches over tensors, AdamW, one-cycle, discriminative LRs.

The whole training set lives as tensors; a batch is ``tensor[idx]`` for ``idx`` from
``torch.randperm(n, generator=g).split(bs)``. There is no Dataset/DataLoader and no per-row
collate, which is what makes fastai's tabular loop 2x slower than a bare torch loop.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
import numbers
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from .callbacks import Callback, Recorder, SmoothLoss
from .guards import finite, outside_tabdl
from .lr_finder import LRFindResult, suggest_lrs
from .metrics import Metric
from .optim import WeightAverage
from .schedule import DEFAULT_MOMS, one_cycle_lr, one_cycle_mom

__all__ = [
    "TensorData",
    "Learner",
    "freeze_to",
    "RandomSampler",
    "resolve_device",
    "seeded",
    "serving_device",
    "DivergenceWarning",
]


class DivergenceWarning(UserWarning):
    """Training stopped because the loss became NaN/inf or exploded."""


def resolve_device(device: str | torch.device) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or a torch device, got {device!r}") from None
    if resolved.type != "cpu":
        # A device this machine lacks (cuda on a CPU-only torch, a GPU index past the last)
        # would fail later inside model.to() as an AssertionError or RuntimeError.
        try:
            torch.empty(0, device=resolved)
        except (RuntimeError, AssertionError) as e:
            raise ValueError(f"device {device!r} is not available here: {e}") from None
    return resolved


@contextlib.contextmanager
def seeded(seed: int, device: str | torch.device = "cpu") -> Iterator[None]:
    """Random draws in the block (init, dropout, batch order) come from ``seed``, and the caller's
    random streams are as they were afterwards.

    torch.manual_seed seeds every CUDA generator too, which ``fork_rng(devices=[])`` does not put
    back: a fit on the CPU (or on one GPU) changed the caller's CUDA streams. So the CPU generator
    is seeded alone, plus ``device``'s own when it is a GPU, and only those are forked.
    """
    device = torch.device(device)
    if device.type == "cuda":
        index = torch.cuda.current_device() if device.index is None else device.index
        with torch.random.fork_rng(devices=[index]), torch.cuda.device(index):
            torch.default_generator.manual_seed(seed)
            torch.cuda.manual_seed(seed)
            yield
    elif device.type == "cpu":
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(seed)
            yield
    else:  # mps & co: torch.manual_seed reaches their generators (and they are not put back)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            yield


def serving_device(device: str | torch.device) -> torch.device:
    """``device`` when this machine has it, else the CPU: a model fitted on a GPU still serves
    on a CPU-only machine (tabdl.load, unpickling)."""
    try:
        return resolve_device(device)
    except ValueError:
        return torch.device("cpu")


@dataclass
class TensorData:
    """Encoded rows: categorical codes, continuous values and (optionally) targets and row weights."""

    x_cat: torch.Tensor  # int64 (n, n_cat)
    x_cont: torch.Tensor  # float32 (n, n_cont)
    y: torch.Tensor | None = None  # float32 (n, t) for regression, int64 (n,) for classes
    w: torch.Tensor | None = None  # float32 (n,) row weights for the loss; None: all rows alike

    def __len__(self) -> int:
        return self.x_cat.shape[0]

    def __getitem__(self, idx: torch.Tensor) -> TensorData:
        return TensorData(*(None if t is None else t[idx] for t in (self.x_cat, self.x_cont, self.y, self.w)))

    def to(self, device: torch.device) -> TensorData:
        if self.x_cat.device == device:
            return self
        return TensorData(*(None if t is None else t.to(device) for t in (self.x_cat, self.x_cont, self.y, self.w)))

    def unit_weights(self) -> TensorData:
        """The same rows with their weights scaled to mean 1, as ``tabdl.losses`` reads them (rows
        that all weigh 0 stay so)."""
        mean = None if self.w is None else float(self.w.mean())
        return self if not mean or mean == 1.0 else replace(self, w=self.w / mean)

    def weighted_draw(self, m: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Indices of ``m`` rows drawn with replacement in proportion to their weights: at random
        with ``generator``, else systematically (evenly spaced through the cumulative weight, the
        steadier sample). The plain mean loss of the rows drawn estimates the weighted mean loss
        of all rows, without the spikes that a few heavy rows give a weighted sample."""
        cum = torch.cumsum(self.w.double(), 0)
        if generator is None:
            u = (torch.arange(m, dtype=torch.float64) + 0.5) / m
        else:
            u = torch.rand(m, generator=generator, dtype=torch.float64)
        return torch.searchsorted(cum, u.to(cum.device) * cum[-1]).clamp_max(len(self) - 1)

    def loss(self, loss_func: Callable, out: torch.Tensor, idx: torch.Tensor | None = None) -> torch.Tensor:
        """``loss_func``'s loss of ``out`` (the model's outputs for rows ``idx``, or for every
        row) against their targets, weighted by their row weights when there are any
        (``tabdl.losses``: ``loss_func(out, y, w)``)."""
        y, w = (self.y, self.w) if idx is None else (self.y[idx], None if self.w is None else self.w[idx])
        return loss_func(out, y) if w is None else loss_func(out, y, w)


class RandomSampler:
    """A fresh permutation of all rows each epoch."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __call__(self, g: torch.Generator) -> torch.Tensor:
        return torch.randperm(self.n, generator=g)


def check_epochs(epochs: object, name: str = "epochs") -> None:
    if not isinstance(epochs, (int, np.integer)) or isinstance(epochs, bool) or epochs < 1:
        raise ValueError(f"{name} must be a positive int, got {epochs!r}")


def group_lrs(lr: float | slice, n_groups: int) -> np.ndarray:
    """Learning rate per layer group (input side first, head last).

    - ``float``: the same LR everywhere;
    - ``slice(hi)``: the head gets ``hi``, every other group ``hi/10`` (fastai v2's choice; v1
      used hi/3). Pretrained-ish early layers should move an order of magnitude slower;
    - ``slice(lo, hi)``: geometric spacing from ``lo`` (first group) to ``hi`` (head).
    """
    if isinstance(lr, slice):
        if lr.step is not None:
            raise ValueError("lr=slice(lo, hi) takes no step")
        lo, hi = lr.start, lr.stop
        if not _finite_positive(hi) or (lo is not None and not _finite_positive(lo)):
            raise ValueError(f"lr slice bounds must be finite positive numbers, got {lr}")
        if lo is None:
            return np.array([hi / 10] * (n_groups - 1) + [hi], dtype=float)
        return np.geomspace(lo, hi, n_groups) if n_groups > 1 else np.array([hi], dtype=float)
    if not _finite_positive(lr):
        raise ValueError(f"lr must be a finite positive float or a slice, got {lr!r}")
    return np.full(n_groups, float(lr))


def _finite_positive(v: object) -> bool:
    # inf and NaN "diverged" at the first batch, and the advice read "Try lr <= nan".
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) and finite(v) and v > 0


def freeze_to(groups: Sequence[nn.Module], n: int) -> None:
    """Freeze the layer groups before index ``n`` (negative counts from the head); train the rest.

    ``n`` = the number of groups freezes them all. Not ``n % len(groups)``: that turned a request to
    freeze every group into training every group, and an ``n`` past the groups into another index.
    """
    k = len(groups)
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, numbers.Integral) or not -k <= n <= k:
        raise ValueError(f"freeze_to needs an int n in [-{k}, {k}] (the model has {k} layer groups), got {n!r}")
    n = int(n) + k if n < 0 else int(n)
    for i, g in enumerate(groups):
        for p in g.parameters():
            p.requires_grad_(i >= n)


# Rows (evenly spaced; weighted rows: drawn by weight) on which each epoch's end judges the weights it leaves. A quarter of the
# reference loss's 16384 at most: a heavy-tailed target's extreme rows can then weigh at most
# about 4x their share in it, well inside the guard's 10x. In benchmarks.speed (one epoch, bs 256)
# Learner/bare-loop throughput was 0.97 with 1024 rows, 0.95 (median 0.97) with 4096, 0.91 with 16384.
EPOCH_CHECK_ROWS = 4096


def _peak_lr(schedule, steps: int, total: int) -> float:
    """The highest LR of the first ``steps`` steps of ``schedule``: a divergence's advice quotes it
    (the LR at detection, late in a one-cycle, was far below the one that blew the net up).
    Computed when a divergence is reported, not in the batch loop."""
    return max(float(schedule(min(s, total - 1), total)[0].max()) for s in range(max(steps, 1)))


def train_mode(model: nn.Module) -> None:
    """``model.train()``, except that BatchNorm layers whose parameters are frozen stay in eval
    mode: "frozen layer groups stay fixed" holds for their running statistics too (in train mode
    they drifted toward the new cycle's batches while the weights after them stayed put).
    """
    model.train()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine and not m.weight.requires_grad:
            m.eval()


class Learner:
    """Owns a model, its loss and the loop. Estimators are thin faces over this.

    The learner tracks the best weights by the monitored score (validation loss when there is a
    validation part, else training loss). It restores them after early stopping, after a
    divergence, and after a KeyboardInterrupt, so nothing learned is lost.

    ``valid_loss_func`` (default: ``loss_func``) scores the validation part, for when training
    optimises another loss than the one to monitor (a classifier trained on a resampled class
    prior monitors the prior-corrected log loss: ``tabdl.sampling.PriorCorrectedLoss``).

    Data with row weights (``TensorData.w``) calls both as ``loss_func(out, y, w)``, which the
    losses of ``tabdl.losses`` take; without them, as ``loss_func(out, y)``.
    """

    def __init__(
        self,
        model: nn.Module,
        loss_func: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        *,
        batch_size: int = 256,
        weight_decay: float = 0.01,
        device: str | torch.device = "cpu",
        seed: int = 0,
        metrics: Sequence[Metric] = (),
        to_output: Callable[[torch.Tensor], np.ndarray] | None = None,
        to_target: Callable[[torch.Tensor], np.ndarray] | None = None,
        callbacks: Sequence[Callback] = (),
        sampler: Callable[[torch.Generator], torch.Tensor] | None = None,
        restore_best: bool = True,
        diverge_factor: float = 10.0,
        opt_func: Callable[..., torch.optim.Optimizer] | None = None,
        valid_loss_func: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        diverge_ref: float | None = None,
        average_weights: bool = False,
    ):
        self.device = resolve_device(device)
        self.model = model.to(self.device)
        self.loss_func = loss_func
        self.valid_loss_func = valid_loss_func
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.metrics = list(metrics)
        self.to_output = to_output or (lambda out: out.float().cpu().numpy())
        self.to_target = to_target or (lambda y: y.cpu().numpy())
        self.recorder = Recorder()
        self.callbacks: list[Callback] = [self.recorder, *callbacks]
        self.sampler = sampler
        self.restore_best = restore_best
        self.diverge_factor = diverge_factor
        # The divergence guard fires at diverge_factor x max(the starting weights' loss,
        # diverge_ref). A cycle that continues a fitted model passes the first loss of its first
        # fit (an untrained net's): its own starting loss (eval mode) can be near 0, while the
        # batch losses of a new cycle (dropout on, LR warming up) are many times that without
        # anything exploding.
        self.diverge_ref = diverge_ref
        # Train the live weights but validate, keep and return their moving average
        # (tabdl.optim.WeightAverage, over at most one epoch of steps).
        self.average_weights = average_weights
        # opt_func(param_groups, lr=, betas=, eps=) builds the optimizer (default AdamW); the
        # loop sets each group's "lr" and "betas" every step, so it must honour those keys.
        # foreach: torch steps CPU tensors one at a time by default, a Python loop that cost a
        # quarter of a wide table's fit (73 embedding tables); the same updates, bit for bit.
        self.opt_func = opt_func or functools.partial(torch.optim.AdamW, foreach=True)
        # A generator of its own for batch order, so one seed fixes the whole run.
        self.generator = torch.Generator().manual_seed(int(seed))
        self.epoch, self.n_epochs, self.stop, self.warmup_epochs = 0, 0, False, 0
        self.diverged = self.interrupted = False
        # Why a cycle stopped early and what to try ("" when it did not), and whether the learner
        # warns about it. A caller that handles the stop itself (the estimators drop a later net of
        # a bag that diverged) turns the warning off and reports stop_reason in its own words.
        self.stop_reason = self.stop_advice = ""
        self.warn_on_stop = True

    # >>> parameter groups
    def layer_groups(self) -> list[nn.Module]:
        return self.model.layer_groups()

    def freeze(self) -> None:
        """Train the head only (the last layer group)."""
        self.freeze_to(-1)

    def freeze_to(self, n: int) -> None:
        freeze_to(self.layer_groups(), n)

    def unfreeze(self) -> None:
        self.freeze_to(0)

    def _optimizer(self) -> torch.optim.Optimizer:
        # Per layer group, two param groups split by shape: tensors of 2+ dims get weight decay,
        # 1-D ones (biases, norms) none. The ensemble's per-member head biases and input scalings
        # and the numerical embeddings' biases are (k, d) or (n, d) tensors, so they are decayed too:
        # the defaults were chosen with this rule (benchmarks/results/ablation.md).
        pgs = []
        for i, g in enumerate(self.layer_groups()):
            params = [p for p in g.parameters() if p.requires_grad]
            decay = [p for p in params if p.ndim >= 2]
            no_decay = [p for p in params if p.ndim < 2]
            if decay:
                pgs.append({"params": decay, "weight_decay": self.weight_decay, "layer": i})
            if no_decay:
                pgs.append({"params": no_decay, "weight_decay": 0.0, "layer": i})
        if not pgs:
            raise ValueError("every parameter is frozen: call unfreeze() before fit")
        return self.opt_func(pgs, lr=1e-3, betas=(DEFAULT_MOMS[0], 0.99), eps=1e-5)

    # >>> best-weights bookkeeping
    def _snapshot(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def _restore(self, state: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(state)

    # >>> batches
    def _batches(self, n: int) -> list[torch.Tensor]:
        idx = self.sampler(self.generator) if self.sampler is not None else torch.randperm(n, generator=self.generator)
        batches = list(idx.split(self.batch_size))
        # BatchNorm cannot train on a batch of one row; such a tail carries no signal anyway.
        if len(batches) > 1 and len(batches[-1]) < 2:
            batches.pop()
        return batches

    def _endless_batches(self, n: int):
        while True:
            yield from self._batches(n)

    def _steps_per_epoch(self, n: int) -> int:
        m = len(self.sampler) if self.sampler is not None else n
        full, rest = divmod(m, self.batch_size)
        return full + (1 if rest >= 2 or full == 0 else 0)

    # >>> evaluation
    def predict_raw(self, data: TensorData, batch_size: int = 65536) -> torch.Tensor:
        """Model outputs for all rows, in large chunks, under inference mode."""
        self.model.eval()
        outs = []
        with torch.inference_mode():
            for s in range(0, max(len(data), 1), batch_size):
                xc = data.x_cat[s : s + batch_size].to(self.device)
                xn = data.x_cont[s : s + batch_size].to(self.device)
                outs.append(self.model(xc, xn))
        return torch.cat(outs) if len(outs) > 1 else outs[0]

    def _loss_on(self, data: TensorData, max_rows: int = 16384) -> float:
        """The training loss of the current weights on ``data`` (eval mode), over at most
        ``max_rows`` evenly spaced rows (rows with weights: drawn by weight, ``weighted_draw``):
        the divergence guard needs its scale, not its last digit, and a forward pass over every row
        cost a third of a one-epoch cycle on flights.
        """
        if len(data) > max_rows and data.w is not None:
            # Not evenly spaced rows with their weights: a row of weight 1e5 in the epoch-end
            # sample and not in the starting one read as a 5x blow-up.
            data = replace(data[data.weighted_draw(max_rows)], w=None)
        step = -(-len(data) // max_rows)  # ceil: every row up to max_rows
        if step > 1:
            data = data[torch.arange(0, len(data), step, device=data.y.device)]
        return float(data.unit_weights().loss(self.loss_func, self.predict_raw(data)))

    def validate(self, valid: TensorData) -> dict[str, float]:
        out = self.predict_raw(valid)
        loss_func = self.valid_loss_func or self.loss_func
        logs = {"valid_loss": float(valid.to(self.device).unit_weights().loss(loss_func, out))}
        if self.metrics:
            y_true, y_out = self.to_target(valid.y), self.to_output(out)
            w = None if valid.w is None else valid.w.cpu().numpy()
            for m in self.metrics:
                try:
                    logs[m.name] = m(y_true, y_out, sample_weight=w)
                except Exception as e:  # a user's callable: say which one, and what it was given
                    raise ValueError(
                        f"metric {m.name!r} failed on the validation part, given y_true of shape "
                        f"{np.shape(y_true)} and the model's output of shape {np.shape(y_out)} (class "
                        f"probabilities for a classifier): {type(e).__name__}: {e}"
                    ) from e
        return logs

    # >>> fitting
    def fit_one_cycle(
        self,
        train: TensorData,
        epochs: int,
        lr: float | slice = 1e-2,
        *,
        valid: TensorData | None = None,
        div: float = 25.0,
        pct_start: float = 0.25,
        div_final: float = 1e5,
        moms: tuple[float, float, float] = DEFAULT_MOMS,
    ) -> Learner:
        max_lrs = group_lrs(lr, len(self.layer_groups()))

        def schedule(step: int, total: int) -> tuple[np.ndarray, float]:
            lrs = one_cycle_lr(step, total, max_lrs, div=div, pct_start=pct_start, div_final=div_final)
            return lrs, one_cycle_mom(step, total, moms=moms, pct_start=pct_start)

        return self._fit(train, valid, epochs, schedule)

    def fit(
        self, train: TensorData, epochs: int, lr: float | slice = 1e-3, *, valid: TensorData | None = None
    ) -> Learner:
        """Constant learning rate (and momentum); ``fit_one_cycle`` is usually the better choice."""
        lrs = group_lrs(lr, len(self.layer_groups()))
        return self._fit(train, valid, epochs, lambda step, total: (lrs, DEFAULT_MOMS[0]))

    def _fit(self, train: TensorData, valid: TensorData | None, epochs: int, schedule) -> Learner:
        check_epochs(epochs)
        train = train.to(self.device).unit_weights()
        valid = valid.to(self.device) if valid is not None and len(valid) else None
        opt = self._optimizer()
        steps_per_epoch = self._steps_per_epoch(len(train))
        total = steps_per_epoch * epochs
        self.n_epochs, self.stop, self.diverged, self.interrupted = int(epochs), False, False, False
        self.stop_reason = self.stop_advice = ""
        self.best_state, self.best_epoch, self.best_score = self._snapshot(), 0, math.inf
        # A sampler's warm-up epochs (deferred oversampling's plain ones still to come:
        # tabdl.sampling) train the net but do not compete for the best weights, which must be
        # the sampled ones. Each is still held as the fallback (best_score stays inf, so the first
        # sampled epoch replaces it): a stop before any sampled epoch ends (Ctrl-C, divergence)
        # keeps the last finished plain epoch, not the untrained net.
        self.warmup_epochs = min(int(getattr(self.sampler, "plain_epochs_left", 0)), epochs - 1)
        # Divergence = the smoothed batch loss rises above diverge_factor x the starting weights'
        # loss on the training rows (_loss_on). Not x the first batch's loss: on a heavy-tailed target
        # (incomes, prices) a batch that holds an outlier scores 10-100x one that does not, and a
        # healthy fit was stopped in epoch 1 and reset to its initial weights.
        # One batch alone is no divergence (NaN/inf aside): the guard also needs the last two
        # batch losses above the bar. A heavy-tailed target's extreme row (z = 36 among
        # reddit_finance's incomes) gave one batch 500x the others late in a healthy fit, which
        # lifted the average over the bar on its own, and the guard stopped the fit there. A real
        # blow-up keeps every batch high, and is caught one batch later than before.
        # A batch's loss is that of the weights before its step, so the last steps of an epoch
        # are judged at the epoch's end, on the weights the epoch leaves (a cycle of one or two
        # steps was never judged, and an epoch that ended mid blow-up was kept as the best).
        start = max(self._loss_on(train), 1e-3)
        reference = max(start, self.diverge_ref or 0.0)
        bar = self.diverge_factor * reference
        smoother = SmoothLoss(start=start)
        value = previous = 0.0
        average = WeightAverage(self.model, steps_per_epoch) if self.average_weights else None
        step = 0
        for cb in self.callbacks:
            cb.before_fit(self)
        try:
            for epoch in range(1, epochs + 1):
                self.epoch = epoch
                train_mode(self.model)
                if average is not None:
                    average.swap_out()  # train the live weights (the average was evaluated)
                for cb in self.callbacks:
                    cb.before_epoch(self)
                for idx in self._batches(len(train)):
                    lrs, mom = schedule(min(step, total - 1), total)
                    for pg in opt.param_groups:
                        pg["lr"] = float(lrs[pg["layer"]])
                        pg["betas"] = (mom, pg["betas"][1])
                    out = self.model(train.x_cat[idx], train.x_cont[idx])
                    loss = train.loss(self.loss_func, out, idx)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    if average is not None:
                        average.update()
                    previous, value = value, loss.item()
                    step += 1
                    if not math.isfinite(value) or (smoother.update(value) > bar and min(value, previous) > bar):
                        self._diverged(value, _peak_lr(schedule, step, total))
                        return self
                    for cb in self.callbacks:
                        cb.after_batch(self, value)
                logs = {"epoch": epoch, **self.recorder.epoch_logs()}
                if average is not None:
                    average.swap_in()  # scored, snapshot and, after the last epoch, kept
                held = self._loss_on(train, max_rows=EPOCH_CHECK_ROWS)
                if not math.isfinite(held) or held > bar:
                    self._diverged(held, _peak_lr(schedule, step, total))
                    return self
                if valid is not None:
                    logs.update(self.validate(valid))
                logs["lr"] = float(lrs[-1])
                score = logs["valid_loss"] if valid is not None else logs["train_loss"]
                if epoch <= self.warmup_epochs:
                    self.best_epoch, self.best_state = epoch, self._snapshot()
                elif math.isfinite(score) and score < self.best_score:
                    self.best_score, self.best_epoch, self.best_state = score, epoch, self._snapshot()
                for cb in self.callbacks:
                    cb.after_epoch(self, logs)
                if self.stop:
                    break
        except KeyboardInterrupt:
            self.interrupted = True  # a caller that chains cycles (fine_tune) stops here too
            self.stop_reason = f"interrupted during epoch {self.epoch}"
            if self.warn_on_stop:
                kept = (
                    f"the best weights so far (epoch {self.best_epoch})"
                    if self.best_epoch
                    else "the weights this cycle started from"
                )
                warnings.warn(
                    f"fit {self.stop_reason}; keeping {kept}",
                    UserWarning,
                    stacklevel=outside_tabdl(),
                )
            self._restore(self.best_state)
            return self
        finally:
            self.model.eval()  # fitted means ready to predict, however the loop ended
            for cb in self.callbacks:
                cb.after_fit(self)
        if self.restore_best and valid is not None and self.best_epoch > 0:
            self._restore(self.best_state)
        else:  # the last epoch's weights are kept: best_epoch names the epoch the model holds
            self.best_epoch = self.epoch
        return self

    def _diverged(self, value: float, lr: float) -> None:
        self.diverged = True
        self._restore(self.best_state)
        what = "became NaN/inf" if not math.isfinite(value) else f"exploded ({value:.3g})"
        self.stop_reason = f"the loss {what} at epoch {self.epoch} with lr={lr:.3g}"
        self.stop_advice = f"Try lr <= {lr / 10:.2g} (10x below where it diverged), or the suggestion of lr_find(X, y)."
        if self.warn_on_stop:
            kept = (
                f"the weights of epoch {self.best_epoch}" if self.best_epoch else "the weights this cycle started from"
            )
            warnings.warn(
                f"training diverged: {self.stop_reason}. Restored {kept}. {self.stop_advice}",
                DivergenceWarning,
                stacklevel=outside_tabdl(),
            )

    # >>> LR finder
    def lr_find(
        self,
        train: TensorData,
        *,
        start_lr: float = 1e-7,
        end_lr: float = 10.0,
        num_it: int = 100,
        stop_factor: float = 4.0,
    ) -> LRFindResult:
        """Grow the LR exponentially over a mini-run; the model is restored afterwards."""
        if not (_finite_positive(start_lr) and _finite_positive(end_lr) and start_lr < end_lr):
            raise ValueError(f"lr_find needs finite 0 < start_lr < end_lr, got {start_lr}, {end_lr}")
        if isinstance(num_it, bool) or not isinstance(num_it, (int, np.integer)) or num_it < 3:
            raise ValueError(f"num_it must be an int >= 3 (the suggestions need 3 points), got {num_it!r}")
        train = train.to(self.device)  # no unit_weights: _loss_on scales them, and batches draw by weight
        state, gen_state, was_training = self._snapshot(), self.generator.get_state(), self.model.training
        opt = self._optimizer()
        # Started at the starting weights' loss on the training rows, as fit's divergence guard: one
        # heavy-tailed batch among the first few otherwise passes the 4x stop at once.
        smoother = SmoothLoss(start=self._loss_on(train))
        lrs, raw, smooth = [], [], []
        batches = self._endless_batches(len(train))
        if train.w is not None:
            # Rows drawn in proportion to their weights and scored unweighted: weighted batches
            # spiked on a few heavy rows (3 of weight 1e4 among 2,000 stopped the sweep early and
            # moved the suggestion 1000x too low).
            weighted, train = train, replace(train, w=None)
            batches = (weighted.weighted_draw(self.batch_size, self.generator) for _ in itertools.count())
        train_mode(self.model)
        try:
            for i, idx in zip(range(num_it), batches):
                lr = start_lr * (end_lr / start_lr) ** (i / max(num_it - 1, 1))
                for pg in opt.param_groups:
                    pg["lr"] = lr
                loss = train.loss(self.loss_func, self.model(train.x_cat[idx], train.x_cont[idx]), idx)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                value = loss.item()
                if not math.isfinite(value):
                    break
                lrs.append(lr)
                raw.append(value)
                smooth.append(smoother.update(value))
                if smooth[-1] > stop_factor * min(smooth):
                    break
        finally:
            self._restore(state)
            self.model.train(was_training)
            self.generator.set_state(gen_state)
        if len(lrs) < 3:
            raise ValueError("lr_find diverged within 3 steps: lower start_lr")
        lrs_a, smooth_a = np.asarray(lrs), np.asarray(smooth)
        return LRFindResult(lrs_a, smooth_a, np.asarray(raw), suggest_lrs(lrs_a, smooth_a))
