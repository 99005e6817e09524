"""Every core notebook stays a core path: at most ~1,500 words of prose (COURSE_STANDARD §8, issue 17).

The counting rule is perflab.notebook_format.prose_words: markdown cells only; fenced code blocks,
`code spans`, link/image targets and HTML tags are not prose; a word is a whitespace-separated token
holding a letter or digit. Deep dives (chNN_<slug>_deep.ipynb) are not counted: the rest goes there."""
import json

import pytest

from perflab import notebook_format as nf

CORE = [p for p in nf.notebooks() if not nf.is_deep(p)]


@pytest.mark.parametrize("path", CORE, ids=lambda p: p.name)
def test_core_notebook_prose_fits_the_core_path(path):
    n = nf.prose_words(path)
    assert n <= nf.MAX_CORE_WORDS, (f"{path.name} has {n} words of prose (max {nf.MAX_CORE_WORDS}): move a "
                                    f"section to {nf.deep_of(path).name} and link it")


def _notebook(tmp_path, *markdown):
    path = tmp_path / "ch99_words.ipynb"
    path.write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": m} for m in markdown]
                                + [{"cell_type": "code", "source": "prose in code is not counted", "outputs": []}]}))
    return path


def test_the_rule_counts_prose_and_skips_code_links_and_tags(tmp_path):
    path = _notebook(tmp_path, "# Two words\nthree four, five.", "see `x.y(z)` and [the docs](https://a.b/c d) — ok",
                     "```python\nnot counted at all\n```\n<img src='x'/> <b>six</b> 7")
    assert nf.prose_words(path) == 5 + 5 + 2     # see, and, the, docs, ok; "—" has no letter or digit


def test_a_long_core_notebook_fails_the_limit(tmp_path):
    path = _notebook(tmp_path, "word " * (nf.MAX_CORE_WORDS + 1))
    assert nf.prose_words(path) > nf.MAX_CORE_WORDS
    assert not nf.is_deep(path) and nf.is_deep(path.with_name("ch99_words_deep.ipynb"))
