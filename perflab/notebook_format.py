"""Notebook hygiene: committed without outputs, standard metadata, the chapter anatomy; --fix repairs.

    python -m perflab.notebook_format            # check every notebook, list problems
    python -m perflab.notebook_format --fix      # strip outputs and set the standard metadata
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from perflab.colab import BOOTSTRAP, REPO_URL, TAGS
from perflab.paths import REPO

# the badge opens the notebook as it is on the default branch; its setup cell installs the pinned release
COLAB = f"https://colab.research.google.com/github/{REPO_URL.removeprefix('https://github.com/')}/blob/main/notebooks/"
STANDARD_METADATA = {
    "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
    "language_info": {"name": "python"},
    "colab": {"provenance": [], "gpuType": "T4"},
    "accelerator": "GPU",
}
SETUP_TAGS = set(TAGS)
MAX_CELL_LINES = 20
# headings every chapter notebook has (COURSE_STANDARD §6), matched case-insensitively
ANATOMY = ["setup", "concept", "lab", "exercise", "book check", "takeaways"]
# a deep-dive notebook (chNN_<slug>_deep) continues its core notebook: it needs the setup, its sections and
# takeaways, and a link back; a concept, a prediction, an exercise and a book check are its choice
DEEP_ANATOMY = ["setup", "takeaways"]
MAX_CORE_WORDS = 1500     # COURSE_STANDARD §8: a core notebook's prose, counted by prose_words()


def badge_url(name: str) -> str:
    return COLAB + name


def is_deep(path: Path) -> bool:
    return Path(path).stem.endswith("_deep")


def core_of(path: Path) -> Path:
    """The core notebook a deep dive continues (ch09_x_deep.ipynb -> ch09_x.ipynb)."""
    return Path(path).with_name(Path(path).stem.removesuffix("_deep") + ".ipynb")


def deep_of(path: Path) -> Path:
    return Path(path).with_name(Path(path).stem + "_deep.ipynb")


def prose_words(path: Path) -> int:
    """Words of prose in a notebook's markdown cells. Not counted: fenced code blocks, `code spans`,
    link and image targets, HTML tags; a word is a whitespace-separated token with a letter or digit."""
    n = 0
    for c in json.loads(Path(path).read_text())["cells"]:
        if c["cell_type"] != "markdown":
            continue
        s = re.sub(r"```.*?```", " ", "".join(c["source"]), flags=re.S)
        s = re.sub(r"`[^`\n]*`", " ", s)
        s = re.sub(r"\]\([^)]*\)", "] ", s)
        s = re.sub(r"<[^>]+>", " ", s)
        n += sum(1 for t in s.split() if re.search(r"\w", t))
    return n


def problems(path: Path) -> list[str]:
    """Everything wrong with one notebook, as short sentences (empty when it is fine)."""
    nb = json.loads(path.read_text())
    out = []
    for key, value in STANDARD_METADATA.items():
        if nb.get("metadata", {}).get(key) != value:
            out.append(f"metadata {key!r} is not the standard value")
    cells = nb.get("cells", [])
    for i, c in enumerate(cells):
        if c["cell_type"] == "code":
            if c.get("outputs") or c.get("execution_count") is not None:
                out.append(f"cell {i} has outputs or an execution count")
            n = len("".join(c["source"]).splitlines())
            if n > MAX_CELL_LINES:
                out.append(f"cell {i} has {n} lines (max {MAX_CELL_LINES}): move code to labs/ or perflab/")
    if not cells or cells[0]["cell_type"] != "markdown":
        return out + ["the first cell must be the title (markdown)"]
    first = "".join(cells[0]["source"])
    if not re.match(r"# Chapter \d+ · .+ · .+", first) and path.name.startswith("ch"):
        out.append("title must read '# Chapter N · English title · 中文标题'")
    if badge_url(path.name) not in first:
        out.append(f"the title cell lacks the Open in Colab badge ({badge_url(path.name)})")
    setup = [c for c in cells if c["cell_type"] == "code" and "google.colab" in "".join(c["source"])]
    if not setup or not SETUP_TAGS <= set(setup[0].get("metadata", {}).get("tags", [])):
        out.append("needs one Colab install cell tagged skip-execution and nbval-skip")
    elif "".join(setup[0]["source"]) != BOOTSTRAP:
        out.append("the Colab cell differs from perflab.colab.BOOTSTRAP (run with --fix)")
    if not any("import perflab as pl" in "".join(c["source"]) for c in cells if c["cell_type"] == "code"):
        out.append("no 'import perflab as pl' cell")
    headings = "\n".join("".join(c["source"]).lower() for c in cells if c["cell_type"] == "markdown")
    if is_deep(path):
        for part in DEEP_ANATOMY:
            if not re.search(r"^#+ .*" + re.escape(part), headings, flags=re.M):
                out.append(f"no '{part}' heading")
        if core_of(path).name.lower() not in headings:
            out.append(f"a deep dive links back to its core notebook ({core_of(path).name})")
        return out
    if deep_of(path).exists() and deep_of(path).name.lower() not in headings:
        out.append(f"the core notebook does not link its deep dive ({deep_of(path).name})")
    for part in ANATOMY:
        if not re.search(r"^#+ .*" + re.escape(part), headings, flags=re.M):
            out.append(f"no '{part}' heading")
    if "predict" not in headings:
        out.append("no prediction prompt before a lab ('Predict')")
    if not any("pl.grade(" in "".join(c["source"]) for c in cells if c["cell_type"] == "code"):
        out.append("the exercise never calls pl.grade(...)")
    return out


def fix(path: Path) -> None:
    """Strip outputs and execution counts and set the standard metadata, in place."""
    nb = json.loads(path.read_text())
    nb.setdefault("metadata", {}).update(json.loads(json.dumps(STANDARD_METADATA)))
    for i, c in enumerate(nb["cells"]):
        c.setdefault("id", f"{path.stem[:4]}-{i:02d}")
        if c["cell_type"] == "code" and "google.colab" in "".join(c["source"]):
            c["source"] = BOOTSTRAP.splitlines(keepends=True)
            c.setdefault("metadata", {})["tags"] = list(TAGS)
        if c["cell_type"] == "code":
            c["outputs"], c["execution_count"] = [], None
        c.get("metadata", {}).pop("execution", None)
    nb["nbformat"], nb["nbformat_minor"] = 4, 5
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def notebooks() -> list[Path]:
    return sorted((REPO / "notebooks").glob("*.ipynb"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fix", action="store_true")
    args = p.parse_args(argv)
    bad = 0
    for path in notebooks():
        if args.fix:
            fix(path)
        for msg in problems(path):
            bad += 1
            print(f"{path.name}: {msg}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
