"""Scale of cardinality: a categorical column with 1,000,000 distinct values fits in 4 GB.

The embedding width comes from ``emb_size_rule``, which caps one table at ``max_params``
(2**24) weights, so a 1M-level column gets a 16-wide table (64 MB) instead of fastai's 600
(2.4 GB of weights, about 9.6 GB with gradients and AdamW's two moment buffers).

Each measurement runs in a fresh subprocess so that its peak RSS (``ru_maxrss``) belongs to that
fit alone: generating the frame, preprocessing, training, predicting, and a save/load round trip
(whose JSON metadata carries the 1M-entry vocabulary).

    python -m benchmarks.cardinality [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from benchmarks._common import add_common_args, print_results

__all__ = ["run", "measure"]

ROOT = Path(__file__).resolve().parent.parent
LIMIT_GB = 4.0
BATCH_SIZE = 4096  # the default (256) would take ~8k AdamW steps per epoch over a 16M-weight table


def _peak_rss_gb() -> float:
    """This process's peak RSS. Linux's VmHWM belongs to the address space, which exec replaces;
    ru_maxrss survives exec, so a child started by a big process (the runner's --jobs worker)
    would report its parent's high-water mark instead of its own."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 1e9  # kB
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # Linux: KiB


def _child(n_levels: int, reps: int, epochs: int) -> dict:
    """Runs in the subprocess: generate, fit, predict, save, load; report peak RSS at each step."""
    import tempfile
    import time

    import numpy as np

    import tabdl
    from tabdl import TabularRegressor
    from tabdl.preprocess import emb_size_rule

    out: dict = {
        "levels": n_levels,
        "rows": n_levels * reps,
        "epochs": epochs,
        "rss_imports_gb": _peak_rss_gb(),
    }
    # >>> Data: every level appears `reps` times, as pandas 3 strings; two continuous columns.
    rng = np.random.default_rng(0)
    codes = rng.permutation(np.repeat(np.arange(n_levels), reps))
    effect = rng.normal(size=n_levels)
    a = rng.normal(size=len(codes))
    X = pd.DataFrame(
        {
            "id": pd.Series(np.char.add("id", codes.astype(str)), dtype="str"),
            "a": a,
            "b": rng.uniform(size=len(codes)),
        }
    )
    y = effect[codes] + a
    del codes
    out["rss_data_gb"] = _peak_rss_gb()
    # >>> Fit
    reg = TabularRegressor(
        random_state=0,
        epochs=epochs,
        batch_size=BATCH_SIZE,
        min_category_count=1,
        validation_fraction=None,
        layers=(64, 32),
    )
    t = time.perf_counter()
    reg.fit(X, y)
    out["fit_s"] = time.perf_counter() - t
    out["rss_fit_gb"] = _peak_rss_gb()
    out["cardinality"] = int(reg.preprocessor_.cardinalities_[0])
    out["emb_width"] = int(reg.model_config_["emb_dims"][0])
    out["uncapped_width"] = int(emb_size_rule(out["cardinality"], max_params=2**62))
    out["table_params"] = int(reg.model_.embeds.tables[0].weight.numel())
    out["diverged"] = bool(reg.diverged_)
    # >>> Predict, including unseen levels and the one-row path
    X_new = X.iloc[:10_000].assign(id=[f"new{k}" if k % 2 else v for k, v in enumerate(X["id"].iloc[:10_000])])
    pred = reg.predict(X_new)
    out["predict_finite"] = bool(np.isfinite(pred).all() and np.isfinite(reg.predict(X_new.iloc[:1])).all())
    out["rss_predict_gb"] = _peak_rss_gb()
    # >>> Save / load round trip
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.tabdl")
        t = time.perf_counter()
        reg.save(path)
        out["save_s"] = time.perf_counter() - t
        out["file_mb"] = os.path.getsize(path) / 1e6
        t = time.perf_counter()
        back = tabdl.load(path)
        out["load_s"] = time.perf_counter() - t
        out["load_identical"] = bool(np.array_equal(back.predict(X_new), pred))
    out["rss_peak_gb"] = _peak_rss_gb()
    return out


def measure(n_levels: int, reps: int = 1, epochs: int = 1, threads: int | None = None) -> dict:
    """Run ``_child`` in a fresh interpreter (this checkout's tabdl first on the path)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.cardinality",
        "--child",
        str(n_levels),
        str(reps),
        str(epochs),
    ]
    if threads:
        cmd += ["--threads", str(threads)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"cardinality child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(quick: bool = False, threads: int | None = None) -> list[dict]:
    if threads is None:  # the runner's --threads cap sits in this process: hand it to the child
        import torch

        threads = torch.get_num_threads()
    m = measure(1_000_000, reps=1 if quick else 2, epochs=1, threads=threads)
    rows = [
        ("distinct values in the column", f"{m['levels']:,}"),
        ("rows x epochs", f"{m['rows']:,} x {m['epochs']}"),
        ("embedding rows (vocabulary + unknown)", f"{m['cardinality']:,}"),
        ("embedding width (capped) / uncapped rule", f"{m['emb_width']} / {m['uncapped_width']}"),
        ("embedding weights", f"{m['table_params']:,} ({m['table_params'] * 4 / 1e6:.0f} MB)"),
        ("peak RSS after imports", f"{m['rss_imports_gb']:.2f} GB"),
        ("peak RSS after generating the frame", f"{m['rss_data_gb']:.2f} GB"),
        ("peak RSS after fit", f"{m['rss_fit_gb']:.2f} GB"),
        ("peak RSS after predict + save + load", f"{m['rss_peak_gb']:.2f} GB"),
        (f"within {LIMIT_GB:.0f} GB", "yes" if m["rss_peak_gb"] <= LIMIT_GB else "NO"),
        ("fit time", f"{m['fit_s']:.0f} s (batch size {BATCH_SIZE})"),
        ("training diverged (the DivergenceWarning's flag)", str(m["diverged"])),
        ("predictions finite (half the ids unseen; one row too)", str(m["predict_finite"])),
        (
            "saved file / save / load",
            f"{m['file_mb']:.1f} MB / {m['save_s']:.1f} s / {m['load_s']:.1f} s",
        ),
        ("predictions identical after load", str(m["load_identical"])),
    ]
    table = pd.DataFrame(rows, columns=["measure", "value"])
    uncapped_gb = m["cardinality"] * m["uncapped_width"] * 4 / 1e9
    notes = (
        f"One fresh process; peak RSS is its VmHWM (ru_maxrss where /proc is absent). Without the cap the rule would give a "
        f"{m['uncapped_width']}-wide table: {uncapped_gb:.1f} GB of weights, about {4 * uncapped_gb:.0f} GB "
        "with gradients and AdamW's two moment buffers (computed, not run)."
    )
    return [{"title": "A categorical with 1,000,000 distinct values", "table": table, "notes": notes}]


def main(argv: list[str] | None = None) -> None:
    ap = add_common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    ap.add_argument("--child", nargs=3, type=int, metavar=("LEVELS", "REPS", "EPOCHS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        if args.threads:
            # torch's pool only: limit_threads would import LightGBM into the process whose
            # peak RSS is the measurement, and this fit runs no BLAS or LightGBM work.
            import torch

            torch.set_num_threads(args.threads)
        print(json.dumps(_child(*args.child)))
        return
    print_results(run(quick=args.quick, threads=args.threads))


if __name__ == "__main__":
    main()
