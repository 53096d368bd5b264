"""Validation-only study behind the oversampling defaults (``results/imbalance.md``).

    python -m benchmarks.imbalance_study --task churn --splits 8 --variants plain oversample ...

Only the *training* part of each task is used: each split carves a holdout (25%, stratified,
seed 100 + s) from it, and the fit's own validation part (10% of the rest, stratified, seed s)
serves early stopping and the thresholds. The protocol's test part is never read.
Holdout scores: balanced accuracy at the cut tuned for balanced accuracy, F1 at the cut tuned
for F1 (both by ``tabdl.sampling.tune_threshold`` on the fit's validation part: the calibrated
cut it takes by default; ``*_empirical``, the bagged cut of the validation labels that was the
default before round 9; ``*_unbagged``, that cut without bagging), the same at
argmax, AUC, PR AUC, and ``f1_best`` (the best F1 any cut reaches on the holdout: an upper
bound that separates the net's ranking from the threshold estimate).

Variants are TabularClassifier kwargs plus the study's knobs (``Study``): its label smoothing
is always the variant's own (0 unless named), and it oversamples from the first epoch unless the
variant defers (``drs*``), so "oversample" is oversampling from the start *without* the
smoothing that ``sampling="oversample"`` trains with, "over_ls05" the default of rounds 1-8, and
"drs50_ls05" the shipped default since round 9 (``tabdl.sampling.OVERSAMPLE_DEFER``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.optimize import minimize_scalar
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score
from sklearn.model_selection import train_test_split

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import limit_threads, markdown_table, positive_int  # noqa: E402
from benchmarks.imbalance import flights_5pct  # noqa: E402
from tabdl import TabularClassifier  # noqa: E402
from tabdl.datasets import load  # noqa: E402
from tabdl.metrics import METRICS  # noqa: E402
from tabdl.sampling import PriorCorrectedLoss, tune_threshold  # noqa: E402


class _Brier(PriorCorrectedLoss):
    """Brier score of the prior-corrected probabilities (a best-epoch rule to compare)."""

    def forward(self, out, y):
        p = torch.softmax(out.float() + self.log_ratio.to(out.device), dim=1)
        return ((p - torch.nn.functional.one_hot(y, p.shape[1])) ** 2).sum(dim=1).mean()


class _NegAUC(PriorCorrectedLoss):
    """Minus the validation ROC AUC (a ranking rule for the best epoch, to compare)."""

    def forward(self, out, y):
        return torch.tensor(
            -roc_auc_score(y.cpu().numpy(), out[:, 1].float().cpu().numpy() - out[:, 0].float().cpu().numpy())
        )


class _TempNLL(PriorCorrectedLoss):
    """Prior-corrected log loss after the best temperature on these rows: scores what the
    probabilities could be once calibrated, so an overconfident but well-ranked epoch is not
    punished for its confidence alone."""

    def forward(self, out, y):
        z = out.float().detach()
        lr = self.log_ratio.to(out.device)

        def nll(log_t):
            return float(torch.nn.functional.cross_entropy(z / np.exp(log_t) + lr, y))

        return torch.tensor(minimize_scalar(nll, bounds=(-3, 3), method="bounded").fun)


class _Last(PriorCorrectedLoss):
    """Every epoch beats the one before: keeps the last weights."""

    calls = 0

    def forward(self, out, y):
        self.calls += 1
        return torch.tensor(-float(self.calls))


class Study(TabularClassifier):
    """TabularClassifier with the knobs under study (set as attributes, not params)."""

    label_smoothing = 0.0
    best_by = "log_loss"  # or "brier"
    share_power = 1.0  # class shares of an oversampled epoch ~ n_c ** (1 - share_power)
    full_epoch = False  # every class drawn up to the majority count (epoch ~ k x majority)
    defer = 0.0  # share of a fit's epochs drawn plain before oversampling (the estimator: 0.5)

    def _loss(self):
        loss = super()._loss()
        loss.label_smoothing = self.label_smoothing
        return loss

    def _sampler(self, train, *, continued=False):
        s = super()._sampler(train, continued=continued)
        if self.sampling == "oversample":
            s.plain_epochs = 0 if continued else int(self.defer * self._epochs())
        if self.sampling == "oversample" and self.share_power != 1.0:
            n = np.array([len(g) for g in s.groups], dtype=float)
            w = n ** (1 - self.share_power)
            s.class_counts = np.floor(n.sum() * w / w.sum()).astype(np.int64)
        if self.sampling == "oversample" and self.full_epoch:
            s.class_counts = np.full(len(s.groups), max(len(g) for g in s.groups), dtype=np.int64)
        return s

    def _valid_loss(self, train, sampler):
        loss = super()._valid_loss(train, sampler)
        if self.best_by == "log_loss":
            return loss
        k = len(self.classes_)
        rule = {"brier": _Brier, "auc": _NegAUC, "temp": _TempNLL, "last": _Last}[self.best_by]
        return rule(np.zeros(k) if loss is None else loss.log_ratio.cpu().numpy())


# name -> (TabularClassifier kwargs, Study attributes)
VARIANTS: dict[str, tuple[dict, dict]] = {
    "plain": ({}, {}),
    "plain_brier": ({}, {"best_by": "brier"}),
    "oversample": ({"sampling": "oversample"}, {}),
    "over_brier": ({"sampling": "oversample"}, {"best_by": "brier"}),
    "over_ls02": ({"sampling": "oversample"}, {"label_smoothing": 0.02}),
    "over_ls03": ({"sampling": "oversample"}, {"label_smoothing": 0.03}),
    "over_ls05": ({"sampling": "oversample"}, {"label_smoothing": 0.05}),
    "over_ls10": ({"sampling": "oversample"}, {"label_smoothing": 0.1}),
    "over_wd05": ({"sampling": "oversample", "weight_decay": 0.05}, {}),
    "over_wd10": ({"sampling": "oversample", "weight_decay": 0.1}, {}),
    "over_drop3": ({"sampling": "oversample", "dropout": 0.3}, {}),
    "over_ep10": ({"sampling": "oversample", "epochs": 10}, {}),
    "over_lr3": ({"sampling": "oversample", "lr": 3e-3}, {}),
    "over_sqrt": ({"sampling": "oversample"}, {"share_power": 0.5}),
    "class_weight": ({"class_weight": "balanced"}, {}),
    "over_brier_ls05": ({"sampling": "oversample"}, {"best_by": "brier", "label_smoothing": 0.05}),
    "over_brier_ls10": ({"sampling": "oversample"}, {"best_by": "brier", "label_smoothing": 0.1}),
    "over_auc": ({"sampling": "oversample"}, {"best_by": "auc"}),
    "cw_brier": ({"class_weight": "balanced"}, {"best_by": "brier"}),
    "over_last": ({"sampling": "oversample"}, {"best_by": "last"}),
    "over_temp": ({"sampling": "oversample"}, {"best_by": "temp"}),
    "over_temp_ls05": ({"sampling": "oversample"}, {"best_by": "temp", "label_smoothing": 0.05}),
    "plain_temp": ({}, {"best_by": "temp"}),
    "over_full": ({"sampling": "oversample"}, {"full_epoch": True}),
    "over_full_ls05": ({"sampling": "oversample"}, {"full_epoch": True, "label_smoothing": 0.05}),
    "drs50_ls05": ({"sampling": "oversample"}, {"label_smoothing": 0.05, "defer": 0.5}),
    "drs75_ls05": ({"sampling": "oversample"}, {"label_smoothing": 0.05, "defer": 0.75}),
}


def _task(name: str):
    if name == "churn":
        d = load("churn")
        return d.X_train, d.y_train, d.cat_features
    (X, _, y, _), cats = flights_5pct(60_000)
    return X, y, cats


def _scores(y, p, cut_ba, cut_f1) -> dict[str, float]:
    ba, f1 = METRICS["balanced_accuracy"].func, METRICS["f1"].func
    prec, rec, _ = precision_recall_curve(y, p)
    return {
        "ba_argmax": ba(y, p >= 0.5),
        "f1_argmax": f1(y, p >= 0.5),
        "ba_tuned": ba(y, p >= cut_ba),
        "f1_tuned": f1(y, p >= cut_f1),
        "f1_best": float(np.nanmax(2 * prec * rec / np.maximum(prec + rec, 1e-12))),
        "auc": roc_auc_score(y, p),
        "pr_auc": average_precision_score(y, p),
        "cut_ba": cut_ba,
        "cut_f1": cut_f1,
    }


def run_split(X, y, cats, variant: str, s: int) -> dict:
    Xf, Xh, yf, yh = train_test_split(X, y, test_size=0.25, stratify=y, random_state=100 + s)
    Xt, Xv, yt, yv = train_test_split(Xf, yf, test_size=0.1, stratify=yf, random_state=s)
    kwargs, attrs = VARIANTS[variant]
    clf = Study(cat_features=cats, random_state=s, **kwargs)
    for k, v in attrs.items():
        setattr(clf, k, v)
    t0 = time.perf_counter()
    clf.fit(Xt, yt, eval_set=(Xv, yv))
    fit_s = time.perf_counter() - t0
    pv = clf.predict_proba(Xv)[:, 1]
    cuts = [tune_threshold(yv.to_numpy(), pv, m) for m in ("balanced_accuracy", "f1")]
    ph = clf.predict_proba(Xh)[:, 1]
    out = _scores(yh.to_numpy(), ph, *cuts)
    ba, f1 = METRICS["balanced_accuracy"].func, METRICS["f1"].func
    for w in (0.0, 0.2, 0.3):  # the empirical cut's smoothing window (default 0.1)
        out[f"f1_s{int(w * 100)}"] = f1(
            yh.to_numpy(), ph >= tune_threshold(yv.to_numpy(), pv, "f1", method="empirical", smooth=w)
        )
    # The empirical cuts, bagged (the median over 64 resamples) and not.
    for suffix, kw in (("empirical", {}), ("unbagged", {"n_bootstrap": 0})):
        ba_cut, f1_cut = (
            tune_threshold(yv.to_numpy(), pv, m, method="empirical", **kw) for m in ("balanced_accuracy", "f1")
        )
        out[f"ba_tuned_{suffix}"] = ba(yh.to_numpy(), ph >= ba_cut)
        out[f"f1_tuned_{suffix}"] = f1(yh.to_numpy(), ph >= f1_cut)
    return {"variant": variant, "split": s, **out, "best_epoch": clf.best_epoch_, "fit_s": fit_s}


def main(argv=None) -> None:
    # Checked before the data loads: an unknown variant or --splits 0 was a KeyError after it.
    ap = argparse.ArgumentParser(prog="python -m benchmarks.imbalance_study", description=__doc__.splitlines()[0])
    ap.add_argument("--task", choices=("churn", "flights-5%"), default="churn")
    ap.add_argument("--splits", type=positive_int, default=8, help="splits per variant (default: %(default)s)")
    ap.add_argument(
        "--variants",
        nargs="+",
        default=list(VARIANTS),
        choices=list(VARIANTS),
        metavar="NAME",
        help=f"default: all of {' '.join(VARIANTS)}",
    )
    ap.add_argument("--csv", default=None, help="append per-split rows here")
    args = ap.parse_args(argv)
    limit_threads(1)  # torch and every OpenMP/BLAS pool
    X, y, cats = _task(args.task)
    rows = []
    for s in range(args.splits):
        for v in args.variants:
            rows.append({"task": args.task, **run_split(X, y, cats, v, s)})
            print({k: (round(x, 4) if isinstance(x, float) else x) for k, x in rows[-1].items()}, flush=True)
    df = pd.DataFrame(rows)
    if args.csv:
        df.to_csv(args.csv, mode="a", header=not Path(args.csv).exists(), index=False)
    table = df.groupby("variant", sort=False).mean(numeric_only=True).drop(columns="split").reset_index()
    print(markdown_table(table))


if __name__ == "__main__":
    main()
