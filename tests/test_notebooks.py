"""The table and figure notebooks: paired .py/.ipynb in sync, a papermill parameters cell, no typed
numbers in their prose, and every one of them executes with papermill at the smoke profile.

Execution is the CI check. All notebooks run once per session into a temporary copy of the book
(``executed_book``), sharing one temporary runs directory so that a model trained for one notebook
is read back by the next; ``tests/test_book.py`` builds that copy.
"""
from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import nbformat
import pytest

from microau import reproduce
from microau.book import manifest
from microau.book.placeholders import OUTPUT_DIR

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
NOTEBOOKS = manifest.NOTEBOOKS
REQUIRED = {"datasets": list, "profile": str, "data_root": type(None), "device": str,
            "runs_dir": type(None), "train_missing": bool, "overrides": dict}
BOTH = ["phantom-casme2", "phantom-samm"]
# Which phantom sets each notebook runs on in CI. Tables III-VIII need 17 distinct models per data
# set between them and go through the same code as Table II, so they run on the smaller
# phantom-samm only; every other notebook runs on both, so each data set's shapes (8 AUs with AU1,
# 4 AUs without it) go through every figure.
CI_DATASETS = {name: (["phantom-samm"] if re.match(r"table[3-8]_", name) else BOTH) for name in NOTEBOOKS}

_STATE: dict = {}


def copy_book(dst: Path, with_reproduction: bool = False) -> Path:
    """A copy of book/ with the symlinked _config.yml/_toc.yml resolved, without build output."""
    ignore = ["_build"] + ([] if with_reproduction else [OUTPUT_DIR])
    shutil.copytree(ROOT / "book", dst, symlinks=False, ignore=shutil.ignore_patterns(*ignore))
    return dst


def execute_all(tmp_root: Path) -> dict:
    """Execute every notebook at profile 'smoke' into ``tmp_root/book/reproduction`` (once per
    session). Returns {'book': Path, 'runs': Path, 'results': {name: (error or None, seconds)}}."""
    if "state" in _STATE:
        return _STATE["state"]
    book = copy_book(tmp_root / "book")
    runs = tmp_root / "runs"
    results = {}
    for name in NOTEBOOKS:
        params = {"datasets": CI_DATASETS[name], "profile": "smoke", "data_root": None,
                  "device": "cpu", "runs_dir": str(runs), "train_missing": True, "overrides": {}}
        t0 = time.perf_counter()
        try:
            reproduce.execute_notebooks([name], params, book, ROOT, progress=False)
            results[name] = (None, time.perf_counter() - t0)
        except Exception as err:  # reported by the test of that notebook
            results[name] = (str(err), time.perf_counter() - t0)
    _STATE["state"] = {"book": book, "runs": runs, "results": results}
    return _STATE["state"]


@pytest.fixture(scope="session")
def executed_book(tmp_path_factory):
    return execute_all(tmp_path_factory.mktemp("notebooks"))


# --------------------------------------------------------------------------- static checks


def test_every_notebook_is_listed_and_paired():
    py = sorted(p.stem for p in NB_DIR.glob("*.py"))
    ipynb = sorted(p.stem for p in NB_DIR.glob("*.ipynb"))
    assert py == ipynb, "every notebooks/*.py needs its paired .ipynb and the reverse"
    assert sorted(NOTEBOOKS) == py, "microau.book.manifest.PAGES must list every notebook"


def _cells(nb):
    return [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in nb.cells]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_py_and_ipynb_in_sync(name):
    import jupytext

    from_py = jupytext.read(NB_DIR / f"{name}.py")
    from_ipynb = nbformat.read(NB_DIR / f"{name}.ipynb", as_version=4)
    assert _cells(from_py) == _cells(from_ipynb), (
        f"notebooks/{name}.py and .ipynb differ; run: jupytext --sync notebooks/{name}.py")
    assert from_ipynb.metadata.kernelspec.name == "python3"
    assert from_ipynb.metadata.get("jupytext", {}).get("formats") == "ipynb,py:percent"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_parameters_cell(name):
    nb = nbformat.read(NB_DIR / f"{name}.ipynb", as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    values: dict = {}
    exec(tagged[0].source, {}, values)
    for key, typ in REQUIRED.items():
        assert key in values, f"parameter {key!r} missing"
        assert isinstance(values[key], typ), (key, values[key])
    assert values["datasets"] == BOTH
    assert values["profile"] == "quick" and values["device"] == "cpu"
    # the parameters come before any code that uses them
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert first_code is tagged[0]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_prose_types_no_numbers(name):
    """Numbers in the prose are computed; markdown cells carry no decimal numbers."""
    nb = nbformat.read(NB_DIR / f"{name}.ipynb", as_version=4)
    for c in nb.cells:
        if c.cell_type == "markdown":
            found = re.findall(r"(?<![\w.])\d+\.\d+", c.source)
            assert not found, f"{name}: number(s) {found} typed in a markdown cell"


def test_reproduce_command_parses():
    from microau.cli import build_parser
    from microau.cli_args import parse_roots

    args = build_parser().parse_args(
        ["reproduce", "--profile", "smoke", "--datasets", "casme2", "--root", "casme2=/data/C",
         "--only", "table2_ablation,fig7_tsne", "--only", "fig6_similarity", "--no-build", "--jobs", "3",
         "--executor", "ray"])
    assert args.func is reproduce._main and args.no_build and args.jobs == 3 and args.executor == "ray"
    assert manifest.select(args.only) == ["table2_ablation", "fig6_similarity", "fig7_tsne"]  # book order
    assert manifest.select("fig7_tsne,table2_ablation") == ["table2_ablation", "fig7_tsne"]
    assert parse_roots(args.root, args.datasets) == {"casme2": "/data/C"}
    assert parse_roots(["/data/C"], ["casme2"]) == {"casme2": "/data/C"}  # one licensed set: plain DIR
    with pytest.raises(ValueError):
        manifest.select("table11_nothing")
    with pytest.raises(ValueError):
        parse_roots(["/data/C"], ["casme2", "samm"])  # which one?
    with pytest.raises(ValueError):
        parse_roots([], ["samm"])  # licensed data without a root


def test_notebook_variants_are_what_the_notebooks_train():
    """The list microau reproduce trains up front: each table's rows, the figures' variants; every
    page opens itself by its own name (``report.open_page``), which reads the runs the manifest
    lists for it: seed runs for the seed page, every included page's runs for Findings."""
    from microau.config import VARIANTS
    from microau.paper import paper_table

    assert manifest.notebook_variants("table4_alpha") == list(paper_table("table4").variants)
    assert manifest.notebook_variants("data_overview") == ["full"]  # against the region baseline
    assert manifest.notebook_variants("predict_demo") == []
    assert manifest.notebook_variants(manifest.LANDING_PAGE) == []  # it reads what exists, trains nothing
    assert set(manifest.notebook_variants("findings")) >= set(manifest.notebook_variants("table8_miaucl"))
    for page in manifest.PAGES:
        text = (NB_DIR / f"{page.name}.py").read_text()
        assert set(page.variants) <= set(VARIANTS), page.name
        assert f'report.open_page("{page.name}", globals()' in text, page.name


def test_notebooks_hold_parameters_calls_and_prose():
    """Loading and reading live in microau: no notebook reads runs itself, and the code the
    notebooks share stands in few places (the duplicate scan's idiom: parameters, then calls)."""
    for name in NOTEBOOKS:
        text = (NB_DIR / f"{name}.py").read_text()
        for call in ("load_page_runs", "load_seed_runs", "load_runs(", "paper_table("):
            assert call not in text, f"{name} calls {call} itself; report.open_page does it"


# --------------------------------------------------------------------------- execution (CI)


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_executes_at_smoke(executed_book, name):
    error, seconds = executed_book["results"][name]
    assert error is None, error
    nb = nbformat.read(executed_book["book"] / OUTPUT_DIR / f"{name}.ipynb", as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    warned = [o["text"] for o in outputs if o.output_type == "stream" and o.name == "stderr" and "Warning" in o["text"]]
    assert not warned, f"{name}: warnings printed into the page: {warned}"
    printed = [o["text"][:200] for o in outputs if o.output_type == "stream" and o.name == "stdout"]
    assert not printed, f"{name}: printed into the page (read-back lines, logs): {printed}"
    first = next(o for c in nb.cells if c.cell_type == "code" and "parameters" not in
                 " ".join(c.metadata.get("tags", [])) for o in c.get("outputs", []))
    if name != manifest.LANDING_PAGE:  # the page opens with what it shows, and ends with how it was made
        assert "**Our data**" in first.get("data", {}).get("text/markdown", ""), f"{name}: no opening"
    last = [o for o in outputs if "data" in o][-1]["data"].get("text/markdown", "")
    assert "**Notebook**" in last and "**Code**" in last, f"{name}: no footer"
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "'smoke'" in injected[0].source or '"smoke"' in injected[0].source
    html = "\n".join(o.get("data", {}).get("text/html", "") for o in outputs if "data" in o)
    glued = [o for o in outputs if "data" in o and any("papermill.record/image/png" in k for k in o["data"])]
    assert glued, f"{name}: no figure glued for the page"
    if name.startswith("table"):
        assert "paper · " in html and "ours · phantom-" in html, f"{name}: no side-by-side table"
    markdown = "\n".join(o["data"].get("text/markdown", "") for o in outputs if "data" in o)
    if name.startswith("table"):
        assert "**ours · phantom-" in markdown, f"{name}: no computed comparison"


@pytest.mark.slow
def test_runs_are_shared_between_notebooks(executed_book):
    """Each distinct (settings, data set) was trained once: one run directory per config key."""
    runs = executed_book["runs"]
    done = list(runs.glob("*/smoke/*/DONE"))
    assert done, "no finished run"
    keys = [p.parent.name for p in done]
    assert len(keys) == len(set(keys))
