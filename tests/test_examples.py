"""The example notebooks run from top to bottom in a Jupyter kernel (nbclient)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import SHORT_SAMPLER

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def outputs_of(cell) -> str:
    """The text a code cell printed or displayed (streams and plain-text results)."""
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        parts.append(out.get("data", {}).get("text/plain", ""))
    return "".join(parts)


@pytest.mark.sampling
def test_the_infection_notebook_runs(tmp_path):
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(EXAMPLES / "infection.ipynb", as_version=4)
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "commit it cleared"
    (parameters,) = (c for c in code if "parameters" in c.metadata.get("tags", []))
    assert parameters.source == "DRAWS, TUNE, CHAINS = 1000, 500, 4"
    # the fit is not what is tested: the suite's short settings
    parameters.source = "DRAWS, TUNE, CHAINS = {draws}, {tune}, {chains}".format(**SHORT_SAMPLER)
    # runs in a scratch folder: the evidence base shipped with the package, runs/ here
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()  # a cell that raises fails the test (CellExecutionError)

    printed = {c.source.splitlines()[0]: outputs_of(c) for c in code}
    assert "did NOT converge" in printed["fit = hlhbayes.fit("]  # short run: said loudly
    assert "NOT CONVERGED" in printed["fit = hlhbayes.fit("]
    assert "q97.5" in printed["fit.summary()"]
    assert "elpd_loo" in printed["az.loo(fit.idata)"]
    forest = next(c for c in code if c.source.startswith("az.plot_forest"))
    assert any("image/png" in out.get("data", {}) for out in forest.outputs)
    assert (
        "robust prior:"
        in printed['draws = fit.draws("rate_new", etiology="infection", line="first")']
    )
    assert (tmp_path / "runs" / "notebook-infection" / "summary.json").is_file()
