"""Class imbalance: plain training vs oversampling, undersampling, class weights, each with and
without a decision threshold tuned on the validation part (Buda et al. 2018).

    python -m benchmarks.imbalance [--quick] [--threads N]

Tasks:
- churn (``load("churn")``, about 14% positive), all rows;
- flights-5%: ``load("flights")`` with positives (``arr_delay > 15``, about 24%) subsampled to 5%.
  Rule: after the protocol's train/test split, each part keeps all of its negatives and a random
  subset of its positives (``numpy.random.default_rng(0)`` for train, ``(1)`` for test) of size
  ``round(n_negatives * 5 / 95)``. Rows are first subsampled with ``max_rows`` (``load``'s
  seeded rule) to keep the run short on 2 shared cores; the sizes are in the notes.

Every configuration uses TabularClassifier's defaults (20 epochs) plus the sampling / class
weights shown. The validation part is carved here (10% of the training part, stratified,
``random_state=seed``) and passed as ``eval_set``, so the benchmark can score it again: with
sampling or class weights the best epoch is chosen by the prior-corrected validation log loss;
"oversample" draws balanced epochs of n rows from the second half of the epochs on (the first
half plain: deferred re-sampling) and trains with label smoothing 0.05
(``tabdl/sampling.py``). A threshold does not touch training, so one fit gives every row of a
configuration:

- "argmax": ``predict_proba(X).argmax``, what ``threshold=None`` predicts;
- "tuned (balanced_accuracy)" / "tuned (f1)": the cut on P(positive) that
  ``threshold="auto", threshold_metric=<that metric>`` would tune, i.e.
  ``tabdl.sampling.tune_threshold`` on the fit's validation rows (the fit itself runs with
  ``threshold_metric="f1"``, so the F1 row is its ``predict``). A user reports each metric at the
  threshold tuned for it, and so does the acceptance line: balanced accuracy from the first row,
  F1 from the second.

Scores are test-set means over the seeds; ``fit_s`` is the mean fit time and ``fit_ratio`` its
ratio to plain training in the same run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

if __package__ in (None, ""):  # `python benchmarks/imbalance.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import cli, timer  # noqa: E402
from tabdl import TabularClassifier  # noqa: E402
from tabdl.datasets import load  # noqa: E402
from tabdl.metrics import METRICS  # noqa: E402
from tabdl.sampling import decide, tune_threshold  # noqa: E402

__all__ = ["run", "CONFIGS", "flights_5pct", "subsample_positives"]

CONFIGS: list[tuple[str, dict]] = [
    ("none", {}),
    ("oversample", {"sampling": "oversample"}),
    ("undersample 1:1", {"sampling": "undersample", "undersample_ratio": 1.0}),
    ("undersample 3:1", {"sampling": "undersample", "undersample_ratio": 3.0}),
    ("class_weight balanced", {"class_weight": "balanced"}),
]
POSITIVE_SHARE = 0.05


def subsample_positives(X: pd.DataFrame, y: pd.Series, share: float, seed: int):
    """Keep every negative and a seeded random subset of positives so they make ``share`` of the rows."""
    pos = np.flatnonzero(y.to_numpy() == 1)
    neg = np.flatnonzero(y.to_numpy() == 0)
    k = min(len(pos), int(round(len(neg) * share / (1 - share))))
    keep = np.sort(np.concatenate([neg, np.random.default_rng(seed).choice(pos, size=k, replace=False)]))
    return X.iloc[keep], y.iloc[keep]


def flights_5pct(max_rows: int | None):
    d = load("flights", max_rows=max_rows)
    X_train, y_train = subsample_positives(d.X_train, d.y_train, POSITIVE_SHARE, seed=0)
    X_test, y_test = subsample_positives(d.X_test, d.y_test, POSITIVE_SHARE, seed=1)
    return (X_train, X_test, y_train, y_test), d.cat_features


def _scores(y: np.ndarray, proba: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return {
        "balanced_acc": METRICS["balanced_accuracy"].func(y, pred),
        "f1": METRICS["f1"].func(y, pred),
        "auc": METRICS["roc_auc"](y, proba),
        "pr_auc": METRICS["pr_auc"](y, proba),
    }


def _task_rows(task: str, data, cats, seeds) -> list[dict]:
    X_train, X_test, y_train, y_test = data
    y_test = y_test.to_numpy()
    rows = []
    for seed in seeds:
        X_fit, X_val, y_fit, y_val = train_test_split(
            X_train, y_train, test_size=0.1, stratify=y_train, random_state=seed
        )
        for name, kw in CONFIGS:
            clf = TabularClassifier(cat_features=cats, threshold="auto", threshold_metric="f1", random_state=seed, **kw)
            with timer() as t:
                clf.fit(X_fit, y_fit, eval_set=(X_val, y_val))
            proba = clf.predict_proba(X_test)
            # The cut threshold_metric="balanced_accuracy" would tune: the estimator's own helper
            # on the same validation rows (the fit tuned its threshold_ for F1).
            codes = np.searchsorted(clf.classes_, y_val.to_numpy())
            ba_cut = tune_threshold(codes, clf.predict_proba(X_val)[:, 1], "balanced_accuracy")
            rules = [("argmax", None), ("tuned (balanced_accuracy)", ba_cut), ("tuned (f1)", clf.threshold_)]
            for rule, cut in rules:
                pred = clf.classes_[decide(proba, cut)]
                rows.append(
                    {
                        "task": task,
                        "sampling": name,
                        "threshold": rule,
                        "seed": seed,
                        **_scores(y_test, proba, pred),
                        "cut": 0.5 if cut is None else cut,
                        "fit_s": t(),
                    }
                )
    return rows


def _summarise(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    order = {name: i for i, (name, _) in enumerate(CONFIGS)}
    table = (
        df.groupby(["task", "sampling", "threshold"], sort=False)
        .mean(numeric_only=True)
        .drop(columns="seed")
        .reset_index()
    )
    plain = table[(table["sampling"] == "none") & (table["threshold"] == "argmax")].set_index("task")["fit_s"]
    table["fit_ratio"] = table["fit_s"] / table["task"].map(plain)
    table["_o"] = table["sampling"].map(order)
    return table.sort_values(["task", "_o", "threshold"], kind="stable").drop(columns="_o").reset_index(drop=True)


def acceptance(table: pd.DataFrame) -> list[str]:
    """The issue's bar: oversample + tuned beats plain on balanced accuracy and F1; AUC within 0.005.

    Each metric of oversample + tuned is read at the threshold tuned for that metric.
    """
    lines = []
    for task, t in table.groupby("task", sort=False):
        t = t.set_index(["sampling", "threshold"])
        plain = t.loc[("none", "argmax")]
        ba = t.loc[("oversample", "tuned (balanced_accuracy)"), "balanced_acc"]
        f1, auc = t.loc[("oversample", "tuned (f1)"), ["f1", "auc"]]
        ok = ba > plain["balanced_acc"] and f1 > plain["f1"] and auc >= plain["auc"] - 0.005
        lines.append(
            f"{task}: oversample+tuned vs plain: balanced acc {ba:.4f} vs {plain['balanced_acc']:.4f}, "
            f"F1 {f1:.4f} vs {plain['f1']:.4f}, AUC {auc:.4f} vs {plain['auc']:.4f} "
            f"({auc - plain['auc']:+.4f}) -> {'PASS' if ok else 'FAIL'}"
        )
    return lines


def run(quick: bool = False) -> list[dict]:
    seeds = (0,) if quick else (0, 1, 2)
    churn_rows = 2500 if quick else None
    flights_rows = 20_000 if quick else 60_000
    churn = load("churn", max_rows=churn_rows)
    flights, flights_cats = flights_5pct(flights_rows)
    # Warm-up fit, untimed: the first fit in a process pays one-off costs (imports, allocator)
    # that would otherwise inflate the plain row's fit_s and every fit_ratio.
    TabularClassifier(epochs=1, random_state=0).fit(churn.X_train[:500], churn.y_train[:500])
    rows = _task_rows("churn", tuple(churn), churn.cat_features, seeds)
    rows += _task_rows("flights-5%", flights, flights_cats, seeds)
    table = _summarise(rows)
    sizes = (
        f"churn: {len(churn.X_train)} train / {len(churn.X_test)} test rows, "
        f"{churn.y_train.mean():.1%} / {churn.y_test.mean():.1%} positive; flights-5%: "
        f"{len(flights[0])} train / {len(flights[1])} test rows (from max_rows={flights_rows}), "
        f"{flights[2].mean():.1%} / {flights[3].mean():.1%} positive"
    )
    notes = "\n".join(
        [
            f"Test-set means over seeds {list(seeds)}. {sizes}.",
            "Each fit uses TabularClassifier defaults plus the sampling / class_weight shown; the "
            "validation part (10% of the training rows, stratified) is passed as eval_set. 'argmax' "
            "rows score predict_proba(X).argmax (what threshold=None predicts); 'tuned (m)' rows "
            "score the same fit with the cut that threshold='auto', threshold_metric=m tunes on the "
            "validation rows ('tuned (f1)' is the fit's own predict). 'cut' is the threshold on "
            "P(positive) (0.5 for argmax). Acceptance reads balanced accuracy at its own cut and F1 at "
            "its own cut. fit_s includes the tuning; fit_ratio is fit_s / plain fit_s.",
            *acceptance(table),
        ]
    )
    return [{"title": "Class imbalance: sampling, class weights and a tuned threshold", "table": table, "notes": notes}]


def main(argv: list[str] | None = None) -> None:
    cli(run, __doc__, argv)


if __name__ == "__main__":
    main()
