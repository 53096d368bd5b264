"""benchmarks/_common.py: the shared command line and the thread cap."""

import argparse

import pytest

from benchmarks import _common


def test_the_thread_cap_reaches_the_random_forest(monkeypatch):
    # n_jobs=-1 ignored --threads 1: joblib's pool is not one threadpool_limits caps.
    monkeypatch.setattr(_common, "THREADS", None)
    assert _common.random_forest_model("regression").n_jobs == -1  # no cap: unchanged
    _common.limit_threads(1)  # the test process already runs torch on one thread
    assert _common.THREADS == 1
    assert _common.random_forest_model("binary").n_jobs == 1
    assert _common.random_forest_model("regression").n_jobs == 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_limit_threads_refuses_a_bad_count(bad):
    with pytest.raises(ValueError, match="threads must be an int >= 1"):
        _common.limit_threads(bad)


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_common_args_refuse_a_bad_thread_count(value, capsys):
    # --threads 0 reached torch.set_num_threads as a bare RuntimeError.
    ap = _common.add_common_args(argparse.ArgumentParser(prog="bench"))
    with pytest.raises(SystemExit) as exc:
        ap.parse_args(["--threads", value])
    assert exc.value.code == 2
    assert "--threads:" in capsys.readouterr().err
    assert ap.parse_args(["--threads", "2"]).threads == 2


def test_the_help_describes_a_module_by_its_whole_first_paragraph(monkeypatch, capsys):
    # imbalance's summary spans two lines: --help ended at "class weights, each with and".
    from benchmarks import imbalance

    monkeypatch.setattr(imbalance, "run", lambda quick: pytest.fail("ran on --help"))
    with pytest.raises(SystemExit) as exc:
        imbalance.main(["--help"])
    assert exc.value.code == 0
    assert "each with and without a decision threshold tuned on the validation part" in " ".join(
        capsys.readouterr().out.split()
    )
