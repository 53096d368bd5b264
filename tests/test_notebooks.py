"""The notebooks run top to bottom in quick mode (TABDL_QUICK=1), and are committed clean."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")


def test_the_three_notebooks_are_there():
    assert [p.name for p in NOTEBOOKS] == [
        "01_tabular_quickstart.ipynb",
        "02_embeddings_for_gbm.ipynb",
        "03_collaborative_filtering.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, "clear the outputs"


@pytest.fixture
def kernel_env(tmp_path, monkeypatch):
    """A `python3` kernelspec that runs this interpreter, found first on JUPYTER_PATH.

    A user-level python3 kernelspec (~/.local/share/jupyter) could point at another Python;
    this one wins, so the notebooks always run in the venv that runs the tests, importing
    this checkout's tabdl.
    """
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "tabdl tests", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("TABDL_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # Small data: one thread each for torch/OpenMP, so the kernel does not fight the test run.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    return tmp_path


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_quick_mode(path, kernel_env):
    nb = nbformat.read(path, as_version=4)
    # Fail loudly if the kernel is some other Python than the one running the tests.
    check = f"import sys, tabdl\nassert sys.prefix == {sys.prefix!r}, sys.prefix\nprint(tabdl.__file__)"
    nb.cells.insert(0, nbformat.v4.new_code_cell(check))
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(kernel_env)}}
    )
    client.execute()
    printed = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert printed.strip() == str(ROOT / "tabdl" / "__init__.py")
