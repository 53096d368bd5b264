"""MatrixFactorization settings on movielens VALIDATION parts (the test part is never read).

Each split cuts 10% off the protocol's training part (random_state 1, 2, 3); every setting fits
on the other 90% with two seeds, and the mean RMSE over the 6 fits is printed with each fit's.
This is how ``n_neighbors`` was chosen (benchmarks/results/collab.md).

    python -m benchmarks.collab_validation '[{"n_neighbors": 0}, {}, {"n_neighbors": 20}]'
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from sklearn.model_selection import train_test_split

from benchmarks._common import limit_threads
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


def main(argv: list[str]) -> None:
    limit_threads(1)
    for params in json.loads(argv[0]) if argv else [{}]:
        t0 = time.time()
        rmse = validation_rmse(params)
        print(json.dumps(params), f"mean {np.mean(rmse):.4f}", " ".join(f"{r:.4f}" for r in rmse),
              f"{time.time() - t0:.0f}s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
