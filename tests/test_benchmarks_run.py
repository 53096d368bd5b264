"""benchmarks/run.py: failures are reported and fail the run; ratios come from the same table."""

import importlib.machinery
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks import run


def _fake_module(monkeypatch, name, func):
    mod = types.ModuleType(f"benchmarks.{name}")
    mod.__spec__ = importlib.machinery.ModuleSpec(f"benchmarks.{name}", None)
    mod.run = func
    monkeypatch.setitem(sys.modules, f"benchmarks.{name}", mod)


def _ok(quick=False):
    table = pd.DataFrame({"model": ["tabdl", "LightGBM"], "rows_per_s": [2.0e5, 1.0e5]})
    return [{"title": f"fake table (quick={quick})", "table": table, "notes": "a note"}]


def _boom(quick=False):
    raise RuntimeError("exploded on purpose")


def test_failing_module_is_reported_and_fails_the_run(monkeypatch, tmp_path, capsys):
    _fake_module(monkeypatch, "fake_ok", _ok)
    _fake_module(monkeypatch, "fake_boom", _boom)
    argv = [
        "--quick",
        "--no-plots",
        "--out",
        str(tmp_path),
        "--only",
        "fake_ok",
        "fake_boom",
    ]
    assert run.main(argv) == 1
    report = (tmp_path / "README.md").read_text()
    assert "| fake_ok | ok |" in report
    assert "| fake_boom | failed: RuntimeError: exploded on purpose |" in report
    assert "### fake table (quick=True)" in report and "| tabdl | 2e+05 |" in report
    assert "a note" in report
    captured = capsys.readouterr()
    assert "exploded on purpose" in captured.err and "FAILED: fake_boom" in captured.err


def test_an_unknown_module_is_refused_before_anything_runs(monkeypatch, tmp_path, capsys):
    # A typo (--only qualty) ran nothing, still drew the plots, and exited 0.
    ran = []
    _fake_module(monkeypatch, "fake_ok", lambda quick=False: ran.append(1) or _ok(quick))
    assert run.main(["--out", str(tmp_path), "--only", "fake_ok", "qualty"]) == 2
    assert not ran and not (tmp_path / "README.md").exists()
    assert "no benchmark module qualty (known: quality" in capsys.readouterr().err


def test_all_ok_exits_zero(monkeypatch, tmp_path):
    _fake_module(monkeypatch, "fake_ok", _ok)
    assert run.main(["--no-plots", "--out", str(tmp_path), "--only", "fake_ok"]) == 0
    assert "fake table (quick=False)" in (tmp_path / "README.md").read_text()


def test_the_report_is_written_as_utf8_whatever_the_locale(tmp_path):
    # Under an ASCII locale (a C locale; Windows' cp1252 lacks it too) the summary's "−" was a
    # UnicodeEncodeError after every module had run.
    script = (
        "import importlib.machinery, sys, types\n"
        "import pandas as pd\n"
        "from benchmarks import run\n"
        "mod = types.ModuleType('benchmarks.fake_ok')\n"
        "mod.__spec__ = importlib.machinery.ModuleSpec('benchmarks.fake_ok', None)\n"
        "mod.run = lambda quick=False: [{'title': 't', 'table': pd.DataFrame({'a': [1]}),"
        " 'notes': '1 \\u2212 AUC'}]\n"
        "sys.modules['benchmarks.fake_ok'] = mod\n"
        "sys.exit(run.main(['--no-plots', '--out', sys.argv[1], '--only', 'fake_ok']))\n"
    )
    root = str(Path(run.__file__).resolve().parent.parent)
    env = {
        **os.environ,
        "LC_ALL": "C",
        "PYTHONUTF8": "0",
        "PYTHONCOERCECLOCALE": "0",
        "PYTHONIOENCODING": "utf-8",
        "PYTHONPATH": root,
    }
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], env=env, cwd=root, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert "1 \u2212 AUC" in (tmp_path / "README.md").read_text(encoding="utf-8")


def test_malformed_results_count_as_failure(monkeypatch, tmp_path):
    _fake_module(monkeypatch, "fake_bad", lambda quick=False: [{"title": "no table"}])
    assert run.main(["--no-plots", "--out", str(tmp_path), "--only", "fake_bad"]) == 1
    assert "failed: TypeError" in (tmp_path / "README.md").read_text()


QUALITY = pd.DataFrame(
    {
        "task": ["diamonds"] * 5 + ["churn"] * 3,
        "model": ["tabdl defaults", "LightGBM default, native", "LightGBM default, ordinal"]
        + ["RandomForest (ordinal)", "fastai (QUOTED from BENCHMARKS.md, not run)"]
        + ["tabdl defaults", "LightGBM default, ordinal", "RandomForest (ordinal)"],
        "metric": ["RMSE"] * 5 + ["AUC"] * 3,
        "score": [0.10, 0.09, 0.095, 0.12, 0.111, 0.92, 0.90, 0.96],
        "fit_s": np.arange(8.0),
    }
)


def _per_metric_columns(table):
    """The same table with one column per metric, the other shape quality_scores reads."""
    wide = table.drop(columns=["metric", "score"])
    for m in ("RMSE", "AUC"):
        wide[m.lower()] = table["score"].where(table["metric"] == m)
    return wide


def test_quality_scores_reads_both_shapes():
    long = run.quality_scores(QUALITY)
    wide = run.quality_scores(_per_metric_columns(QUALITY))
    assert list(wide["metric"]) == ["rmse"] * 4 + ["auc"] * 3
    np.testing.assert_allclose(wide["value"], long["value"])
    assert list(wide["model"]) == list(long["model"])


def test_ratio_table_uses_best_baseline_of_the_run():
    scores = run.quality_scores(QUALITY)
    assert list(scores["metric"]) == ["RMSE"] * 4 + ["AUC"] * 3  # the quoted row is not measured
    ratios = run.ratio_table(scores).set_index("task")
    assert ratios.loc["diamonds", "error / best LightGBM"] == pytest.approx(0.10 / 0.09)
    assert ratios.loc["diamonds", "error / best RF"] == pytest.approx(0.10 / 0.12)
    # AUC turns into an error, 1 - AUC, so a ratio below 1 still means tabdl is better
    assert ratios.loc["churn", "error / best LightGBM"] == pytest.approx(0.08 / 0.10)
    assert ratios.loc["churn", "error / best RF"] == pytest.approx(0.08 / 0.04)


def test_quality_table_without_roles_is_rejected():
    with pytest.raises(ValueError, match="task and model"):
        run.quality_scores(pd.DataFrame({"x": [1]}))


def test_quality_bars_png(tmp_path):
    from benchmarks.plots import quality_bars

    path = quality_bars(run.quality_scores(QUALITY), tmp_path / "bars.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size < 300_000


@pytest.mark.skipif(
    __import__("multiprocessing").get_start_method() != "fork",
    reason="the fake modules reach the workers only through fork",
)
def test_parallel_jobs_keep_order_and_report_failures(monkeypatch, tmp_path):
    _fake_module(monkeypatch, "fake_boom", _boom)
    _fake_module(monkeypatch, "fake_ok", _ok)
    argv = ["--no-plots", "--jobs", "2", "--out", str(tmp_path), "--only", "fake_boom", "fake_ok"]
    assert run.main(argv) == 1
    report = (tmp_path / "README.md").read_text()
    assert report.index("| fake_boom | failed: RuntimeError") < report.index("| fake_ok | ok |")
    assert "--jobs 2" in report


@pytest.mark.parametrize("name", ["plots", "_common"])
def test_a_helper_module_is_refused_before_anything_runs(monkeypatch, tmp_path, capsys, name):
    # --only plots was accepted, then failed with an AttributeError (no run()).
    ran = []
    _fake_module(monkeypatch, "fake_ok", lambda quick=False: ran.append(1) or _ok(quick))
    assert run.main(["--out", str(tmp_path / "r"), "--only", "fake_ok", name]) == 2
    assert not ran and not (tmp_path / "r").exists()
    assert f"not a benchmark (no run()): {name}" in capsys.readouterr().err


def test_a_partial_run_keeps_the_full_report_and_names_its_flags(monkeypatch, tmp_path):
    # --only without --out overwrote the committed benchmarks/results/README.md, saying "mode: full".
    monkeypatch.setattr(run, "HERE", tmp_path)
    full = tmp_path / "results" / "README.md"
    full.parent.mkdir()
    full.write_text("the full report")
    _fake_module(monkeypatch, "fake_ok", _ok)
    assert run.main(["--no-plots", "--threads", "1", "--only", "fake_ok"]) == 0
    assert full.read_text() == "the full report"
    report = (tmp_path / "results" / "partial" / "README.md").read_text()
    assert "`python -m benchmarks.run --only fake_ok --threads 1 --no-plots`" in report
    assert "mode: full, partial (only fake_ok)" in report
    assert run.main(["--quick", "--no-plots", "--jobs", "1", "--only", "fake_ok"]) == 0
    report = (tmp_path / "results" / "quick" / "partial" / "README.md").read_text()
    assert "`python -m benchmarks.run --quick --only fake_ok --jobs 1 --no-plots`" in report
    assert "mode: quick (row subsets), partial (only fake_ok)" in report


def test_the_full_run_writes_the_results_folder():
    assert run.default_out(quick=False, partial=False) == run.HERE / "results"
    assert run.default_out(quick=True, partial=False) == run.HERE / "results" / "quick"


@pytest.mark.parametrize("flag", ["--threads", "--jobs"])
def test_zero_threads_or_jobs_is_refused_by_argparse(flag, capsys):
    with pytest.raises(SystemExit) as exc:
        run.main([flag, "0", "--only", "quality"])
    assert exc.value.code == 2
    assert f"{flag}: must be an int >= 1, got 0" in capsys.readouterr().err
