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


def test_the_ee_source_row_is_the_one_net_the_encoder_fits(tmp_path, monkeypatch):
    # The row fitted n_bags="auto" (a bag of 5 nets here, as on churn) and reported the bag's
    # score and fit_s, while only the first net's embeddings are exported.
    import json

    from benchmarks import _common, embeddings
    from tabdl import EntityEmbeddingEncoder, datasets

    rng = np.random.default_rng(0)
    n = 900  # a, b, c seen >= 100 times (the encoder's min_category_count), d folded: 5 bagged nets
    df = pd.DataFrame({"c": rng.choice(list("abcd"), n, p=[0.45, 0.35, 0.15, 0.05]), "v": rng.normal(size=n)})
    df["y"] = ((df["c"] == "a") ^ (df["v"] > 0.5) ^ (rng.random(n) < 0.2)).astype(int)
    df.to_csv(tmp_path / "tiny.csv", index=False)
    card = {
        "source": {"csv": "tiny.csv"},
        "target": {"column": "y", "equals": 1},
        "categorical": ["c"],
        "continuous": ["v"],
        "task": "binary",
        "metric": "roc_auc",
    }
    (tmp_path / "tiny.json").write_text(json.dumps(card))
    monkeypatch.setenv("TABDL_DATA_DIR", str(tmp_path))
    nets, make = [], embeddings.tabdl_model

    def tabdl_model(*args, **params):  # the benchmark's own, keeping the net it makes
        nets.append(make(*args, **params))
        return nets[-1]

    monkeypatch.setattr(embeddings, "tabdl_model", tabdl_model)
    monkeypatch.setattr(_common, "THREADS", 1)  # the forests on one core: joblib's pool costs seconds
    [result] = embeddings.run(quick=True, tasks=("tiny",))
    [net] = nets
    assert net.n_bags == 1 and net.model_config_.get("n_bags", 1) == 1
    assert result["table"]["model"].str.endswith("one net (the EE source)").sum() == 1
    # Only the task run is named (--tasks churn listed diamonds' and flights' subsets too).
    assert result["notes"].endswith("Rows: quick: tiny all rows.")
    d = datasets.load("tiny")
    enc = EntityEmbeddingEncoder(random_state=0, cat_features=["c"]).fit(d.X_train, d.y_train)
    ours = net.embedding_encoder()
    np.testing.assert_array_equal(ours.transform(d.X_test), enc.transform(d.X_test))
    assert ours.vocabs_ == [["a", "b", "c"]] and ours.tables_[0].shape[0] == 4  # not all folded
    for a, b in zip(ours.tables_, enc.tables_):
        np.testing.assert_array_equal(a, b)
