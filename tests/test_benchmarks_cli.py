"""The study scripts' command lines refuse bad flags before loading any data."""

import pytest

from benchmarks import ablation, collab_validation, embeddings, imbalance_study


def _refused(main, argv, capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    return capsys.readouterr().err


@pytest.fixture
def nothing_runs(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("ran despite a bad flag")

    for module, name in (
        (collab_validation, "validation_rmse"),
        (ablation, "run"),
        (ablation, "final"),
        (imbalance_study, "_task"),
        (embeddings, "run"),
    ):
        monkeypatch.setattr(module, name, boom)


def test_collab_validation_has_a_help_and_checks_its_settings(nothing_runs, capsys):
    # --help was a JSONDecodeError, and a bare call started a long job on the defaults.
    with pytest.raises(SystemExit) as exc:
        collab_validation.main(["--help"])
    assert exc.value.code == 0 and "JSON" in capsys.readouterr().out
    assert "required: JSON" in _refused(collab_validation.main, [], capsys)
    assert "not JSON" in _refused(collab_validation.main, ["{n_neighbors: 0}"], capsys)
    assert "non-empty JSON list of objects" in _refused(collab_validation.main, ['{"n_neighbors": 0}'], capsys)
    err = _refused(collab_validation.main, ['[{}, {"n_neighbours": 20}]'], capsys)
    assert "not MatrixFactorization parameters: n_neighbours" in err
    assert "--threads" in _refused(collab_validation.main, ["[{}]", "--threads", "0"], capsys)


def test_collab_validation_runs_each_setting(monkeypatch, capsys):
    seen = []
    monkeypatch.setattr(collab_validation, "validation_rmse", lambda p: seen.append(p) or [0.9, 0.8])
    monkeypatch.setattr(collab_validation, "limit_threads", lambda n: seen.append(n))
    collab_validation.main(['[{"n_neighbors": 0}, {}]'])
    assert seen == [1, {"n_neighbors": 0}, {}]
    assert '{"n_neighbors": 0} mean 0.8500 0.9000 0.8000' in capsys.readouterr().out


def test_ablation_names_are_checked(nothing_runs, capsys):
    # --only nosuch ran the LightGBM rows alone and exited 0; --tasks nosuch was a bare KeyError.
    assert "unknown variant: nosuch (known: old_default" in _refused(ablation.main, ["--only", "plr,nosuch"], capsys)
    assert "unknown task: nosuch (known: diamonds" in _refused(ablation.main, ["--tasks", "churn,nosuch"], capsys)
    assert "comma-separated ints" in _refused(ablation.main, ["--split-seeds", "1,x"], capsys)


def test_ablation_run_checks_names_before_loading(monkeypatch):
    monkeypatch.setattr(ablation, "validation_parts", lambda *a: pytest.fail("loaded the data"))
    with pytest.raises(ValueError, match="unknown variants or tasks: nosuch"):
        ablation.run(only=["nosuch"])
    with pytest.raises(ValueError, match="unknown variants or tasks: nosuch"):
        ablation.run(tasks=["nosuch"])


def test_ablation_passes_checked_names_on(monkeypatch):
    seen = {}
    monkeypatch.setattr(ablation, "run", lambda quick, **kw: seen.update(kw) or [])
    ablation.main(["--tasks", "churn,diamonds", "--only", "plr,c1", "--split-seeds", "1,2"])
    assert seen == {"tasks": ["churn", "diamonds"], "only": ["plr", "c1"], "split_seeds": (1, 2)}


@pytest.mark.parametrize(
    "argv, says",
    [
        (["--variants", "plain", "nosuch"], "invalid choice: 'nosuch'"),
        (["--splits", "0"], "--splits: must be an int >= 1, got 0"),
    ],
)
def test_imbalance_study_checks_flags_before_loading(nothing_runs, capsys, argv, says):
    # Both were KeyErrors, after the data had loaded.
    assert says in _refused(imbalance_study.main, argv, capsys)


def test_common_threads_flag_refuses_zero(nothing_runs, capsys):
    # --threads 0 reached torch as a RuntimeError.
    assert "--threads: must be an int >= 1, got 0" in _refused(embeddings.main, ["--threads", "0"], capsys)
