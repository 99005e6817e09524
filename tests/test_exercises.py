"""Every exercise, graded on this tier: the notebook's untouched starter fails, the reference answer passes, a wrong answer fails."""
from __future__ import annotations

import ast
import linecache
import re
import types
from pathlib import Path

import nbformat
import pytest
import torch

import perflab as pl
from perflab import exercise, grading

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
GRADE_CALL = re.compile(r"pl\.grade\(\s*\"([\w.]+)\"\s*,\s*(\w+)")


def exercise_cells() -> list[tuple[str, str, str, str]]:
    """(notebook, lab, setup source, cell source) of every code cell that calls pl.grade."""
    found = []
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
        for i, cell in enumerate(code):
            m = GRADE_CALL.search(cell.source)
            if m:
                found.append((path.name, m.group(1), _imports_before(code[:i]), cell.source))
    return found


def _imports_before(cells) -> str:
    """The imports (and ``env = pl.env()``) of the cells above: what an exercise cell may name."""
    lines = []
    for cell in cells:
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in tree.body:
            text = ast.get_source_segment(cell.source, node)
            if isinstance(node, (ast.Import, ast.ImportFrom)) or (
                    isinstance(node, ast.Assign) and text.split("=", 1)[1].strip() == "pl.env()"):
                lines.append(text)
    return "\n".join(lines)


def starter(setup: str, source: str):
    """Run the exercise cell as the learner gets it, with pl.grade replaced by a catcher: the starter function."""
    caught = {}
    shim = types.SimpleNamespace(**{k: getattr(pl, k) for k in dir(pl) if not k.startswith("__")})
    shim.grade = lambda lab, fn, **kw: caught.setdefault("fn", fn)
    ns = {"__name__": "__exercise__"}
    exec(compile(setup, "<imports above the exercise>", "exec"), ns)
    ns["pl"] = shim
    name = f"<exercise cell {abs(hash(source))}>"
    linecache.cache[name] = (len(source), None, source.splitlines(keepends=True), name)   # as IPython does:
    exec(compile(source, name, "exec"), ns)       # a compiled @triton.jit (GPU) reads its source from here
    return caught["fn"]


def _wrong(fn):
    """The answer, 1% (and one unit) off in its first tensor: a grader must catch it."""
    def off(t):
        if not isinstance(t, torch.Tensor):
            return t
        return t * 1.01 + 1 if t.is_floating_point() else t + 1

    def wrong(**inputs):
        out = fn(**inputs)
        if isinstance(out, (tuple, list)):
            return type(out)([off(out[0]), *out[1:]])
        return off(out)
    wrong.perflab = getattr(fn, "perflab", None) or pl.lab.VariantInfo()
    return wrong


def _first(lab: str) -> list:
    """Correctness at the tier's first size only: the labs' own tests check every size; this checks the grading."""
    return pl.load(lab).SIZES[pl.env().tier][:1]


CELLS = exercise_cells()
EXERCISES = {e.lab: e for e in exercise.every()}


@pytest.fixture(autouse=True)
def _keep_matmul_precision():
    before = torch.get_float32_matmul_precision()
    yield
    torch.set_float32_matmul_precision(before)


def test_every_graded_cell_has_an_exercise_and_every_exercise_a_cell():
    graded = {lab for _, lab, _, _ in CELLS}
    assert graded, "no pl.grade cell found in notebooks/"
    assert sorted(graded - set(EXERCISES)) == [], "graded in a notebook but no Exercise in labs/*/solutions.py"
    assert sorted(set(EXERCISES) - graded) == [], "an Exercise that no notebook grades"


def test_every_exercise_says_where_its_numbers_come_from():
    for ex in EXERCISES.values():
        assert ex.evidence, f"{ex.lab}: say where its numbers come from (evidence=...)"


@pytest.mark.parametrize("notebook,lab,setup,source", CELLS, ids=[f"{n}:{lab}" for n, lab, _, _ in CELLS])
def test_untouched_starter_fails(notebook, lab, setup, source):
    fn = starter(setup, source)
    g = grading.grade(lab, fn, seeds=(11,), sizes=_first(lab))
    assert not g.passed, f"{notebook}: the untouched starter of {lab} passes:\n{g!r}"
    assert "❌" in repr(g)


@pytest.mark.parametrize("lab", sorted(EXERCISES))
def test_reference_answer_passes_and_a_wrong_one_fails(lab):
    ex = EXERCISES[lab]
    g = grading.grade(lab, ex.answer, seeds=(11,), sizes=_first(lab))
    assert g.passed, f"the reference answer of {lab} does not pass:\n{g!r}"
    bad = grading.grade(lab, _wrong(ex.answer), seeds=(11,), sizes=_first(lab))
    assert not bad.passed and not bad.correct, f"an off-by-one answer to {lab} passes:\n{bad!r}"


def test_a_failing_step_names_its_criterion_numbers_and_hint():
    from labs.ch17_disaggregation.kv_relayout import per_head_copies
    g = grading.grade("ch17.kv_relayout", per_head_copies, seeds=(11,))
    text = repr(g)
    assert not g.passed and g.failed and "Kernels" in g.failed[0]
    assert "kernels per call: 16 (at most 2)" in text and "hint:" in text


def test_criteria_measure_what_they_say():
    x = torch.randn(1000)
    p, _ = exercise.probe(lambda x: (x * 2 + 1).sum().item(), {"x": x})
    assert p.kernels == 3 and p.syncs == 1
    assert p.bytes == (4000 + 4000) + (4000 + 4000) + (4000 + 4)
    p, _ = exercise.probe(lambda x: x.view(10, 100).t().contiguous(), {"x": x})
    assert p.kernels == 1 and p.syncs == 0


def test_exercise_needs_a_callable_answer():
    with pytest.raises(TypeError, match="answer"):
        exercise.Exercise("ch00.scale_shift", answer=None)
