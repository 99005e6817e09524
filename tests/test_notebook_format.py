"""Notebooks are committed clean, with standard metadata and the chapter anatomy."""
import json

import pytest

from perflab import notebook_format as nf

NOTEBOOKS = nf.notebooks()


def test_the_workbook_has_its_first_notebooks():
    names = {p.name for p in NOTEBOOKS}
    assert {"ch00_start_here.ipynb", "ch07_memory_access.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_clean_and_complete(path):
    assert nf.problems(path) == []


def test_checker_finds_outputs_and_missing_parts(tmp_path):
    src = json.loads(NOTEBOOKS[0].read_text())
    src["cells"][2]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "hi"}]
    src["cells"] = [c for c in src["cells"] if "Book check" not in "".join(c["source"])]
    src["metadata"].pop("kernelspec")
    colab = next(c for c in src["cells"] if "google.colab" in "".join(c["source"]))
    colab["source"] = "".join(colab["source"]) + "\n# edited"
    bad = tmp_path / NOTEBOOKS[0].name
    bad.write_text(json.dumps(src))
    found = " ".join(nf.problems(bad))
    assert "outputs" in found and "book check" in found and "kernelspec" in found and "Colab cell differs" in found
    nf.fix(bad)
    fixed = " ".join(nf.problems(bad))
    assert "outputs" not in fixed and "kernelspec" not in fixed and "Colab" not in fixed
