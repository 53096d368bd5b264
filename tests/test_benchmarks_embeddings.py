import numpy as np
import pandas as pd

from benchmarks.embeddings import clone_fitted, transform_speed
from tabdl import TabularClassifier


def test_transform_speed_table_reads_only_the_categorical_columns():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=120), "c": rng.choice(list("pqrs"), 120), "d": rng.integers(0, 4, 120)})
    clf = TabularClassifier(random_state=0, epochs=1, layers=(8,), cat_features=["c", "d"]).fit(X, X["a"] > 0)
    enc = clf.embedding_encoder()
    df = transform_speed(enc, X, min_rows=500, repeats=1)
    assert list(df["rows"]) == [600, 600]
    width = sum(t.shape[1] for t in enc.tables_)
    assert list(df["out_columns"]) == [width, 2]  # embeddings only (remainder dropped), vs two codes
    assert (df["rows_per_cpu_s"] > 0).all() and df["ratio_vs_ordinal_cpu"].iloc[1] == 1
    assert enc.remainder == "passthrough"  # the benchmark's copy, not the caller's encoder, changed
    assert clone_fitted(enc, remainder="drop").transform(X).shape == (120, width)
