"""MatrixFactorization settings on movielens VALIDATION parts (the test part is never read).

Each split cuts 10% off the protocol's training part (random_state 1, 2, 3); every setting fits
on the other 90% with two seeds, and the mean RMSE over the 6 fits is printed with each fit's.
This is how ``n_neighbors`` was chosen (benchmarks/results/collab.md).

    python -m benchmarks.collab_validation '[{"n_neighbors": 0}, {}, {"n_neighbors": 20}]'
    python -m benchmarks.collab_validation '[{}]'      # the defaults alone

The settings are one JSON list of MatrixFactorization keyword dicts; it is required (a bare call
started six full fits of the defaults) and checked, names included, before any data is loaded.
Each setting takes minutes on one thread.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from sklearn.model_selection import train_test_split

from benchmarks._common import limit_threads, positive_int
from tabdl.collab import MatrixFactorization
from tabdl.datasets import load

SPLITS, SEEDS = (1, 2, 3), (0, 100)


def validation_rmse(params: dict) -> list[float]:
    d = load("movielens")
    out = []
    for split in SPLITS:
        Xf, Xv, yf, yv = train_test_split(d.X_train, d.y_train, test_size=0.1, random_state=split)
        for seed in SEEDS:
            pred = MatrixFactorization(random_state=seed, **params).fit(Xf, yf).predict(Xv)
            out.append(float(np.sqrt(np.mean((yv.to_numpy() - pred) ** 2))))
    return out


def settings(text: str) -> list[dict]:
    """An argparse type: a JSON list of MatrixFactorization keyword dicts (random_state is the
    study's own), every name known to MatrixFactorization."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not JSON ({err}): {text!r}") from None
    if not isinstance(value, list) or not value or not all(isinstance(p, dict) for p in value):
        raise argparse.ArgumentTypeError(f"expected a non-empty JSON list of objects, got {text!r}")
    known = set(MatrixFactorization().get_params()) - {"random_state"}
    unknown = sorted({k for p in value for k in p} - known)
    if unknown:
        raise argparse.ArgumentTypeError(
            f"not MatrixFactorization parameters: {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
    return value


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.collab_validation",
        description=__doc__.splitlines()[0],
        epilog="example: python -m benchmarks.collab_validation '[{\"n_neighbors\": 0}, {}]'",
    )
    ap.add_argument(
        "settings",
        type=settings,
        metavar="JSON",
        help="a JSON list of MatrixFactorization keyword dicts, {} for the defaults",
    )
    ap.add_argument(
        "--threads", type=positive_int, default=1, help="cap torch/OpenMP/BLAS threads (default: %(default)s)"
    )
    args = ap.parse_args(argv)
    limit_threads(args.threads)
    for params in args.settings:
        t0 = time.time()
        rmse = validation_rmse(params)
        print(
            json.dumps(params),
            f"mean {np.mean(rmse):.4f}",
            " ".join(f"{r:.4f}" for r in rmse),
            f"{time.time() - t0:.0f}s",
            flush=True,
        )


if __name__ == "__main__":
    main()
