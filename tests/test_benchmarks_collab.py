"""benchmarks/collab.py on tiny generated ratings: throughput rates, the Surprise-missing note."""

import sys
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest

from benchmarks import collab


@pytest.fixture
def ratings():
    rng = np.random.default_rng(0)
    n = 600
    X = pd.DataFrame({"user": rng.integers(0, 30, n), "item": rng.integers(0, 40, n)})
    y = pd.Series(np.clip(np.round(3 + rng.normal(size=n)), 1, 5), name="rating")
    return X.iloc[:500], X.iloc[500:], y.iloc[:500], y.iloc[500:]


def test_per_epoch_rate_is_the_mean_over_the_training_epochs(ratings):
    row, mf = collab._tabdl_row("mf", {"epochs": 3, "n_neighbors": 5}, ratings)
    epoch_s = mf.history_["time"].to_numpy()
    assert len(epoch_s) == 3
    # ratings x epochs / the epochs' seconds, as Surprise's n_epochs x ratings / fit time
    assert row[collab.PER_EPOCH] == pytest.approx(500 * 3 / epoch_s.sum())


def test_throughput_wall_rate_times_the_whole_fit(ratings, monkeypatch):
    # The wall rate was n / median(history_["time"]): the epochs only, so the default fit
    # (training + neighbour correction) came out faster than training alone.
    @contextmanager
    def two_seconds():
        yield lambda: 2.0

    monkeypatch.setattr(collab, "timer", two_seconds)
    mf = collab.MatrixFactorization(random_state=0, epochs=2, n_neighbors=5).fit(*ratings[::2])
    out = collab._throughput(mf, ratings, rounds=1)
    wall = out["table"].set_index("what").iloc[:, 0]
    assert wall.to_numpy() == pytest.approx([500 * 2 / 2.0] * 4)  # every row: the timed call
    assert "whole MatrixFactorization.fit" in out["notes"]


def test_missing_surprise_is_said_not_skipped_in_silence(ratings, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "surprise", None)  # `import surprise` raises ImportError
    assert collab._surprise_rows(ratings, quick=True) is None
    err = capsys.readouterr().err
    assert "scikit-surprise is not installed" in err and "pip install 'tabdl[bench]'" in err
    notes = collab.collab_notes(500, 100, quick=True, surprise_ran=False)
    assert notes.startswith("Surprise rows skipped: scikit-surprise is not installed")
    assert "for Surprise SVD" not in notes  # nothing described for rows that are not there
    assert "for Surprise SVD" in collab.collab_notes(500, 100, quick=True, surprise_ran=True)
