"""Writes the format-version-1 files that tests/test_io.py reads back (run once, with tabdl at
commit 8f32a03, the last to write version 1):

    git worktree add /tmp/old 8f32a03
    PYTHONPATH=/tmp/old python tests/data/make_format_v1.py

The frame is rebuilt by the test from ``frame()`` below; the predictions the old tabdl made,
on rows where the constant column "const" holds other values too, are stored beside the models.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd


def frame(n: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "const": 1.0,
            "c": pd.Series(rng.choice(["a", "b", "c"], size=n), dtype=object),
        }
    )


def new_rows() -> pd.DataFrame:
    return frame(8).assign(const=[1.0, 5.0, -3.0, 1.0, 0.0, 2.0, 1.0, 9.0])


if __name__ == "__main__":
    import tabdl
    from tabdl import TabularClassifier, TabularRegressor

    here = Path(__file__).parent
    X = frame()
    y = 2 * X["x"].to_numpy() + (X["c"] == "b").to_numpy()
    params = dict(epochs=3, layers=(8,), n_bags=2, random_state=0)
    reg = TabularRegressor(**params).fit(X, y)
    clf = TabularClassifier(**params).fit(X, np.where(y > 0.5, "yes", "no"))
    reg.save(here / "format_v1_regressor.tabdl")
    clf.save(here / "format_v1_classifier.tabdl")
    expected = {
        "tabdl_commit": "8f32a03",
        "regressor_predict": reg.predict(new_rows()).tolist(),
        "classifier_predict_proba": clf.predict_proba(new_rows()).tolist(),
    }
    (here / "format_v1_expected.json").write_text(json.dumps(expected, indent=1))
    print("written with tabdl", tabdl.__file__)
