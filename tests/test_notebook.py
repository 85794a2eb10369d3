"""The example notebook runs (nbclient) and shows LaTeX, an HTML table and a plot (issue 15)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_results_notebook_executes_with_latex_html_and_a_plot(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    # a kernel spec for *this* interpreter (robust on a fresh venv: no installed spec needed)
    spec = tmp_path / "jupyter" / "kernels" / "crldgen-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "crldgen test", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    # no messages from the background compile thread after a cell is over (nbclient waits for them)
    monkeypatch.setenv("CRLDGEN_QUIET", "1")
    nb = nbformat.read(REPO / "examples" / "results.ipynb", as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name="crldgen-test", timeout=300,
                                     resources={"metadata": {"path": str(REPO / "examples")}})
    client.execute()
    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    data = [o.get("data", {}) for o in outputs]
    latex = [d["text/latex"] for d in data if "text/latex" in d]
    assert latex and r"\delta" in latex[0] and r"x^i_{t+1}" in latex[0]
    tables = [d["text/html"] for d in data if "<table" in d.get("text/html", "")]
    assert any("saddle" in t and "stable node" in t for t in tables)
    assert sum("image/png" in d for d in data) >= 2
    assert "(234, 'ecopg2')" in [d.get("text/plain") for d in data]
