"""Run every benchmark in one go and write the report: ``benchmarks/results/README.md`` + PNGs.

    python -m benchmarks.run [--quick] [--only quality speed] [--out DIR] [--jobs N] [--threads N]
    tabdl bench [--quick]                     # the same, from the installed command

Each module ``benchmarks/<name>.py`` exposes ``run(quick=False) -> [{"title", "table", "notes"}]``.
A name with no such module, or a module without ``run`` (``plots``, ``_common``: helpers, not
benchmarks), is refused before anything runs (exit status 2); a module that fails is
reported (in the output and the report) and makes the exit status non-zero, so nothing is
skipped in silence.

Where the report goes, unless ``--out DIR`` says: the full run writes ``benchmarks/results/``
(the committed report); ``--quick`` uses row subsets and writes to ``benchmarks/results/quick/``
so that the committed full results stay as they are; and a partial run (``--only``) writes to a
``partial/`` folder below either (``benchmarks/results/partial/``,
``benchmarks/results/quick/partial/``; neither is committed), so a few modules never replace the
report of every module. The report's first line names the exact flags of the run.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import platform
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # `python benchmarks/run.py`: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402

from benchmarks._common import markdown_table, positive_int, print_results  # noqa: E402

__all__ = ["BENCHMARKS", "main", "quality_scores", "ratio_table"]

BENCHMARKS = ("quality", "embeddings", "collab", "imbalance", "speed", "cardinality")
HERE = Path(__file__).resolve().parent
# Metrics where lower is better; the rest (auc, accuracy, ...) are higher-is-better.
_LOWER_BETTER = ("rmse", "mae", "log_loss", "logloss", "error")


@dataclass
class Outcome:
    name: str
    status: str  # "ok" | "failed" (main refuses a name with no module before running)
    seconds: float = 0.0
    results: list[dict] = field(default_factory=list)
    error: str = ""


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    names = args.only or list(BENCHMARKS)
    unknown = [n for n in names if not n.isidentifier()]
    if unknown:
        print(f"run.py: not benchmark module names: {unknown}", file=sys.stderr)
        return 2
    # Checked before anything runs: a typo ran nothing, still drew the plots, and exited 0.
    missing = [n for n in names if importlib.util.find_spec(f"benchmarks.{n}") is None]
    if missing:
        print(f"run.py: no benchmark module {', '.join(missing)} (known: {', '.join(BENCHMARKS)})", file=sys.stderr)
        return 2
    # A helper module (plots, _common) was accepted and then failed with an AttributeError.
    helpers = [n for n in names if not _has_run(n)]
    if helpers:
        print(
            f"run.py: not a benchmark (no run()): {', '.join(helpers)} (known: {', '.join(BENCHMARKS)})",
            file=sys.stderr,
        )
        return 2
    out = Path(args.out) if args.out else default_out(args.quick, bool(args.only))
    out.mkdir(parents=True, exist_ok=True)

    from tqdm.auto import tqdm

    from benchmarks._common import limit_threads

    limit_threads(args.threads)

    start = time.perf_counter()
    if (args.jobs or 1) > 1:
        outcomes = _run_parallel(names, args.quick, args.jobs, args.threads)
    else:
        outcomes = []
        bar = tqdm(names, desc="benchmarks", unit="module", file=sys.stderr)
        for name in bar:
            bar.set_postfix_str(name)
            outcomes.append(_run_one(name, args.quick))
        bar.close()

    plots: dict[str, Path] = {}
    if not args.no_plots:
        plot_outcome, plots = _plots(outcomes, out, args.quick)
        outcomes.append(plot_outcome)
    total = time.perf_counter() - start

    report = out / "README.md"
    # UTF-8 whatever the locale: in Windows' cp1252 (or a C locale) the "−" of the summary was a
    # UnicodeEncodeError once every module had run, and the report was lost.
    report.write_text(_report(outcomes, plots, args, total, out), encoding="utf-8")
    failed = [o for o in outcomes if o.status == "failed"]
    print(f"\nTables: {report}")
    if plots:
        print("Plots:  " + "\n        ".join(str(p) for p in plots.values()))
    if failed:
        print(f"FAILED: {', '.join(o.name for o in failed)} (see above and {report})", file=sys.stderr)
    return 1 if failed else 0


def default_out(quick: bool, partial: bool) -> Path:
    """The report's folder without --out: results/, results/quick/, and partial/ below either
    for an --only run (a partial run once replaced the committed full report)."""
    out = HERE / "results"
    if quick:
        out = out / "quick"
    return out / "partial" if partial else out


def _has_run(name: str) -> bool:
    """Whether benchmarks.<name> has a run() to call. A module that fails to import counts as
    one: its run is reported as failed, as before, rather than refused as a non-benchmark."""
    try:
        module = importlib.import_module(f"benchmarks.{name}")
    except Exception:
        return True
    return callable(getattr(module, "run", None))


def _parse(argv):
    p = argparse.ArgumentParser(prog="benchmarks.run", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="row subsets, a few minutes on 2 cores")
    p.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help=f"modules to run (default: {' '.join(BENCHMARKS)}); the report goes to a partial/ folder",
    )
    p.add_argument(
        "--out",
        default=None,
        help="results folder (default: benchmarks/results, benchmarks/results/quick with --quick, "
        "and a partial/ folder below either with --only)",
    )
    p.add_argument("--no-plots", action="store_true", help="tables only")
    p.add_argument(
        "--jobs",
        type=positive_int,
        default=None,
        help="run modules in this many worker processes at once (default: 1, in this process)",
    )
    p.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="cap torch/OpenMP/BLAS threads (and the random forest's n_jobs) for every module",
    )
    return p.parse_args(argv)


def command_flags(args: argparse.Namespace) -> str:
    """The run's flags as typed (the report's header names them: a partial run once said "full")."""
    flags = " --quick" if args.quick else ""
    flags += f" --only {' '.join(args.only)}" if args.only else ""
    flags += f" --jobs {args.jobs}" if args.jobs is not None else ""
    flags += f" --threads {args.threads}" if args.threads is not None else ""
    flags += f" --out {args.out}" if args.out else ""
    flags += " --no-plots" if args.no_plots else ""
    return flags


def _run_one(name: str, quick: bool) -> Outcome:
    print(f"\n# {name}{' (quick)' if quick else ''}", flush=True)
    t0 = time.perf_counter()
    try:
        module = importlib.import_module(f"benchmarks.{name}")
        results = module.run(quick=quick)
        _check_results(name, results)
    except Exception as err:
        traceback.print_exc()
        line = " ".join(f"{type(err).__name__}: {err}".split())
        return Outcome(name, "failed", time.perf_counter() - t0, error=line)
    print_results(results)
    return Outcome(name, "ok", time.perf_counter() - t0, results)


def _run_parallel(names: list[str], quick: bool, jobs: int, threads: int | None) -> list[Outcome]:
    """Each module in its own worker process, ``jobs`` at a time; outcomes in the given order.

    Every module still measures its models and baselines side by side in one process, so its
    ratios stay like for like; absolute times are slower when workers share the cores.
    """
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from tqdm.auto import tqdm

    from benchmarks._common import limit_threads

    done: dict[str, Outcome] = {}
    with ProcessPoolExecutor(max_workers=jobs, initializer=limit_threads, initargs=(threads,)) as pool:
        futures = {pool.submit(_run_one, name, quick): name for name in names}
        bar = tqdm(
            as_completed(futures),
            total=len(names),
            desc="benchmarks",
            unit="module",
            file=sys.stderr,
        )
        for fut in bar:
            name = futures[fut]
            try:
                done[name] = fut.result()
            except Exception as err:  # the worker itself died (out of memory, say)
                done[name] = Outcome(name, "failed", error=f"{type(err).__name__}: {err}")
            bar.set_postfix_str(f"{name} {done[name].status}")
        bar.close()
    return [done[n] for n in names]


def _check_results(name: str, results) -> None:
    if not isinstance(results, list) or not results:
        raise TypeError(f"benchmarks.{name}.run() must return a non-empty list of dicts, got {type(results).__name__}")
    for r in results:
        if (
            not isinstance(r, dict)
            or not isinstance(r.get("title"), str)
            or not isinstance(r.get("table"), pd.DataFrame)
        ):
            raise TypeError(f"benchmarks.{name}.run() items need a str 'title' and a DataFrame 'table'")


# >>> ratios against the baselines of the same run


def quality_scores(table: pd.DataFrame) -> pd.DataFrame:
    """The quality table as long rows (task, model, metric, value): one test score per model.

    Reads the table of benchmarks/quality.py: columns task and model, plus either one column per
    metric (rmse, auc; NaN where it does not apply) or a metric-name column with a score column.
    Rows quoted from elsewhere (the model name says QUOTED) are left out: not measured here.
    """
    if not {"task", "model"} <= set(table.columns):
        raise ValueError(f"quality table needs task and model columns, has {list(table.columns)}")
    table = table[~table["model"].astype(str).str.contains("QUOTED", case=False)]
    if {"metric", "score"} <= set(table.columns):
        long = table[["task", "model", "metric", "score"]].rename(columns={"score": "value"})
    else:
        metrics = [m for m in ("rmse", "auc") if m in table.columns]
        if not metrics:
            raise ValueError(f"quality table has no rmse/auc column: {list(table.columns)}")
        # The first metric with a value, per row: rmse for regression tasks, auc for binary ones.
        value = table[metrics].bfill(axis=1).iloc[:, 0]
        metric = table[metrics].notna().idxmax(axis=1)
        long = table[["task", "model"]].assign(metric=metric, value=value)
    return long[long["value"].notna()].reset_index(drop=True)


def _error(metric: str, value: float) -> float:
    """An error where lower is better: the value itself, or 1 - value for AUC-like scores."""
    return value if metric.lower() in _LOWER_BETTER else 1.0 - value


def ratio_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Each tabdl row's error over the best LightGBM and over the best random forest of its task.

    Error is RMSE, or 1 - AUC; a ratio below 1 means tabdl is better.
    """
    from benchmarks.plots import model_family

    rows = []
    for task, g in scores.groupby("task", sort=False):
        g = g.assign(family=[model_family(m) for m in g["model"]])
        g = g.assign(error=[_error(m, v) for m, v in zip(g["metric"], g["value"])])
        best = {f: g.loc[g["family"] == f, "error"].min() for f in ("LightGBM", "RandomForest")}
        for _, r in g[g["family"] == "tabdl"].iterrows():
            rows.append(
                {
                    "task": task,
                    "model": r["model"],
                    "metric": r["metric"],
                    "tabdl": r["value"],
                    "error / best LightGBM": r["error"] / best["LightGBM"],
                    "error / best RF": r["error"] / best["RandomForest"],
                }
            )
    return pd.DataFrame(rows)


# >>> plots


def _plots(outcomes: list[Outcome], out: Path, quick: bool) -> tuple[Outcome, dict[str, Path]]:
    print("\n# plots", flush=True)
    t0 = time.perf_counter()
    paths: dict[str, Path] = {}
    errors = []
    from benchmarks import plots

    quality = next((o for o in outcomes if o.name == "quality" and o.status == "ok"), None)
    if quality is not None:
        try:
            scores = quality_scores(quality.results[0]["table"])
            paths["quality"] = plots.quality_bars(scores, out / "quality_bars.png")
        except Exception as err:
            traceback.print_exc()
            errors.append(f"quality bars: {type(err).__name__}: {err}")
    try:
        paths.update(plots.training_plots(out, quick=quick))
    except Exception as err:
        traceback.print_exc()
        errors.append(f"training plots: {type(err).__name__}: {err}")
    seconds = time.perf_counter() - t0
    status = "failed" if errors else "ok"
    return Outcome("plots", status, seconds, error="; ".join(errors)), paths


# >>> the report


def _report(
    outcomes: list[Outcome],
    plots: dict[str, Path],
    args: argparse.Namespace,
    total: float,
    out: Path,
) -> str:
    import torch

    import tabdl

    quick = args.quick
    mode = "quick (row subsets)" if quick else "full"
    if args.only:
        mode += f", partial (only {', '.join(args.only)})"
    flags = command_flags(args)
    cmd = "python -m benchmarks.run" + flags
    # tabdl bench forwards every flag but --no-plots
    also = f" (or `tabdl bench{flags}`)" if not args.no_plots else ""
    lines = [
        "# tabdl benchmark results",
        "",
        f"Written by `{cmd}`{also} on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; mode: {mode}; total {total:.0f} s.",
        f"Machine: {platform.machine()} CPU, {os.cpu_count()} cores, torch {torch.__version__} with "
        f"{torch.get_num_threads()} threads"
        + (f" (every library capped at {args.threads} by --threads)" if args.threads else "")
        + f", tabdl {tabdl.__version__}, Python {platform.python_version()}.",
        "Every ratio compares models measured in this same run (protocol: `../shared/BENCHMARKS.md`).",
        "",
        "| benchmark | status | seconds |",
        "|---|---|---|",
    ]
    for o in outcomes:
        status = o.status if not o.error else f"{o.status}: {o.error}"
        lines.append(f"| {o.name} | {status.replace('|', '/')} | {o.seconds:.0f} |")

    quality = next((o for o in outcomes if o.name == "quality" and o.status == "ok"), None)
    if quality is not None:
        try:
            ratios = ratio_table(quality_scores(quality.results[0]["table"]))
            lines += [
                "",
                "## Summary: tabdl vs the baselines",
                "",
                "Error is RMSE (diamonds) or 1 − AUC; a ratio below 1 means tabdl beats the best "
                "LightGBM (native categoricals or ordinal codes) or random forest of this run.",
                "",
                markdown_table(ratios, floatfmt=".3f"),
            ]
        except Exception as err:
            lines += ["", f"(no summary: {type(err).__name__}: {err})"]

    for o in outcomes:
        if o.name == "plots":
            continue
        lines += ["", f"## {o.name}", ""]
        if o.status != "ok":
            lines.append(f"**{o.status}**" + (f": `{o.error}`" if o.error else " (module not present)"))
            continue
        for r in o.results:
            lines += [f"### {r['title']}", "", markdown_table(r["table"])]
            if r.get("notes"):
                lines += ["", str(r["notes"]).strip()]
            lines.append("")

    if plots:
        lines += ["", "## Plots", ""]
        for name, p in plots.items():
            rel = os.path.relpath(p, out)
            lines += [f"![{name}]({rel})", ""]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    sys.exit(main())
