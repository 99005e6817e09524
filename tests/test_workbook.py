"""perflab.workbook: a pre-started kernel runs a notebook, per-cell seconds are kept, failing cells are listed."""
import asyncio
import json

import nbformat
import pytest

from perflab import workbook


def test_execute_in_a_prestarted_kernel_times_cells_and_lists_errors(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import sys\nprint('perflab' in sys.modules)"),
                nbformat.v4.new_code_cell("1 / 0"),
                nbformat.v4.new_code_cell("print('after the error')")]
    src = tmp_path / "nb" / "demo.ipynb"
    src.parent.mkdir()
    nbformat.write(nb, src)
    out = tmp_path / "out"
    out.mkdir()

    async def go():
        kernel = await workbook.Kernel(src).start()
        return await workbook.execute(src, out, kernel, timeout_s=120)
    r = asyncio.run(go())
    assert not r["ok"] and r["errors"][0]["cell"] == 1 and r["errors"][0]["ename"] == "ZeroDivisionError"
    assert [c["cell"] for c in r["cells"]] == [0, 1, 2]                 # ran on past the error
    executed = nbformat.read(out / "demo.ipynb", as_version=4)
    assert "True" in executed.cells[0].outputs[0]["text"]              # the warm-up imported perflab first
    s = workbook.summary([r], wall_s=3.0, quick=True)
    assert s["slowest_cells"][0]["seconds"] >= s["slowest_cells"][-1]["seconds"] and s["quick"]
    assert json.dumps(workbook.run_json([r], "cpu", True))


def test_select_filters_by_prefix():
    names = [p.name for p in workbook.select(["ch00", "appendix"], skip=["appendix"])]
    assert names and all(n.startswith("ch00") for n in names)


def test_select_core_and_deep_parts():
    core, deep = workbook.select(None, part="core"), workbook.select(None, part="deep")
    everything = workbook.select(None)
    assert core and deep and sorted(core + deep) == everything
    assert not any(n.stem.endswith("_deep") for n in core) and all(n.stem.endswith("_deep") for n in deep)
    assert core[0].name.startswith("appendix") and any(n.name == "ch14_compiler.ipynb" for n in core)
    assert [n.name for n in workbook.select(["ch07"], part="deep")] == ["ch07_memory_access_deep.ipynb"]
    with pytest.raises(ValueError, match="core"):
        workbook.select(None, part="quick")


def test_a_spent_budget_starts_no_further_notebook(tmp_path, monkeypatch, capsys):
    """--budget: once the wall clock passes it, the notebooks left are listed as not run and the exit code is 1."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import time; time.sleep(0.2)")]
    for name in ("a.ipynb", "b.ipynb"):
        nbformat.write(nb, tmp_path / name)
    monkeypatch.setattr(workbook, "select", lambda *a, **k: sorted(tmp_path.glob("*.ipynb")))
    rc = workbook.main(["--out", str(tmp_path / "out"), "--budget", "0.001"])
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert rc == 1 and run["not_run"] and "budget of 0 s spent" in capsys.readouterr().out
    assert len(run["notebooks"]) + len(run["not_run"]) == 2
    with pytest.raises(SystemExit, match="--budget"):
        workbook.main(["--out", str(tmp_path / "out"), "--budget", "-5"])
