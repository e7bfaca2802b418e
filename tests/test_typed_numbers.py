"""No typed results: every measured figure in the book's pages, the README and the package's
docstrings comes from executed code or from a generated file under ``book/benchmarks/``.

A decimal number in prose is allowed only when it is a setting the code itself holds (a literal in
``microau/``, or the paper's stated setting in ``paper_results.yaml``) or a version. Timings and
speed-up ratios are never settings: they must live in a generated file, or in a README block marked
``<!-- measured: FILE -->`` whose lines appear verbatim in ``book/benchmarks/FILE``.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "microau"
BENCH = ROOT / "book" / "benchmarks"

DECIMAL = re.compile(r"(?<![\w.\-/:=@])(\d+\.\d+)(?![\w.]|\.\d)")
TIMING = re.compile(r"(?<![\w.\-/])(\d+(?:\.\d+)?)\s?(s|ms|min|minutes|seconds|hours|h)\b(?!-)")
RATIO = re.compile(r"(?<![\w.\-/])(\d+(?:\.\d+)?)(?:(x|×)(?=[\s,.;:)]|$)|\s(x|×)\s(faster|slower|speed))")
VERSION_CONTEXT = re.compile(r"(python|torch|torchvision|tensorflow|open_clip|cuda|version|v|==|>=|<=|<|>|arxiv:?|§|sec\.?|"
                             r"section|table|eq\.?|fig\.?)\s*$", re.IGNORECASE)
MEASURED_BLOCK = re.compile(r"<!-- measured: (?P<file>[\w.\-]+) -->(?P<body>.*?)<!-- /measured -->", re.S)


def _literals() -> set[str]:
    """Every number the package's code or the paper's stated settings hold, as typed forms."""
    out: set[str] = set()
    for p in PKG.rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
                    and not isinstance(node.value, bool):
                v = float(node.value)
                out |= {repr(node.value), f"{v:g}", str(v)}
    paper = yaml.safe_load((PKG / "paper_results.yaml").read_text(encoding="utf-8"))
    for v in list(paper["settings"].values()) + [0.6, 1.0]:  # α/β: the paper's choice per data set
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out |= {repr(v), f"{float(v):g}", str(float(v))}
    return out


LITERALS = _literals()


def typed_results(text: str, allow_code_settings: bool = True) -> list[str]:
    """The measured-looking numbers in ``text`` that nothing backs (fenced code is skipped)."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)  # inline code: names, commands, literal values
    text = MEASURED_BLOCK.sub("", text)
    found = []
    spans = [m.span() for rx in (TIMING, RATIO) for m in rx.finditer(text)]
    for m in DECIMAL.finditer(text):
        if any(a <= m.start() < b for a, b in spans):
            continue  # reported once, with its unit, below
        before = text[max(0, m.start() - 14): m.start()]
        if VERSION_CONTEXT.search(before):
            continue
        if allow_code_settings and m.group(1) in LITERALS:
            continue
        found.append(m.group(0))
    for rx in (TIMING, RATIO):
        for m in rx.finditer(text):
            before = text[max(0, m.start() - 14): m.start()]
            if VERSION_CONTEXT.search(before):
                continue
            found.append(m.group(0).strip())
    return found


def test_the_checker_catches_typed_results_and_passes_settings():
    assert typed_results("the full model reaches F1 0.734 on the phantom") == ["0.734"]
    assert typed_results("the whole command took 19.4 minutes") == ["19.4 minutes"]
    assert typed_results("the fast trainer is 7.8x faster") == ["7.8x"]
    assert typed_results("two processes give 1.3 x faster runs") == ["1.3 x faster"]
    assert typed_results("a 1 x N row of weights; a crop of 1.35 x the box side") == []
    assert typed_results("TV-L1 with tau 0.25 and lambda 0.15") == []  # settings the code holds
    assert typed_results("torch 2.15.0 with Python 3.11, see Sec. 4.1") == []
    assert typed_results("run `microau loso --epochs 2.5` here") == []
    assert typed_results("<!-- measured: x.md -->took 3.2 s<!-- /measured -->") == []


def _pages():
    return sorted(p for p in (ROOT / "book").glob("*.md"))


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.name)
def test_book_pages_type_no_results(page):
    found = typed_results(page.read_text(encoding="utf-8"))
    assert not found, (f"book/{page.name} types measured numbers {found}: include a generated file "
                       "from book/benchmarks/ or compute them in a notebook")


def test_readme_types_no_results_and_its_measured_blocks_are_generated():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = typed_results(text)
    assert not found, f"README.md types measured numbers {found}"
    for m in MEASURED_BLOCK.finditer(text):
        source = (BENCH / m["file"]).read_text(encoding="utf-8")
        for line in m["body"].strip().splitlines():
            line = line.strip().lstrip("-* ").strip()
            assert not line or line in source, (f"README's measured block names {m['file']}, which "
                                                f"does not hold: {line!r}")


def _docstrings():
    for p in sorted(PKG.rglob("*.py")):
        tree = ast.parse(p.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc:
                    yield f"{p.relative_to(ROOT)}:{getattr(node, 'name', 'module')}", doc


def test_docstrings_type_no_results():
    bad = {where: found for where, doc in _docstrings() if (found := typed_results(doc))}
    assert not bad, f"docstrings type measured numbers: {bad}"


def test_config_comments_attribute_no_paper_numbers_to_rows():
    """Paper values belong in paper_results.yaml only (see test_paper_results); config.py's
    comments name rows, not their numbers."""
    text = (PKG / "config.py").read_text(encoding="utf-8")
    assert not re.findall(r"(?<![\d.])0\.\d{3}(?!\d)", text)
