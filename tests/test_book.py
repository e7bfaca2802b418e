"""The Jupyter Book builds offline with Sphinx warnings as errors, both on a fresh clone (no
notebook executed: placeholder pages) and after the notebooks have been executed at the smoke
profile (the session fixture of tests/test_notebooks.py), and its pages render in a headless
Chromium with their table and figure."""
from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from microau import reproduce
from microau.book.manifest import NOTEBOOKS
from microau.book.placeholders import OUTPUT_DIR

from test_notebooks import copy_book, execute_all  # noqa: E402  (one session-wide execution)

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def executed_book(tmp_path_factory):
    return execute_all(tmp_path_factory.mktemp("notebooks"))


def _text(html: str) -> str:
    """Visible text of an HTML page (tags dropped, whitespace collapsed)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


SCROLLING = ("microau-table", "text_html", "pst-scrollable-table-container")  # boxes that scroll sideways


class _Reader(HTMLParser):
    """Walks a built page and notes what a reader would see that they should not: code input
    outside a closed toggle, stream output, parameter cells, and tables outside a scrolling box."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self):
        super().__init__()
        self.stack: list[tuple[str, set[str]]] = []
        self.problems: list[str] = []

    def _inside(self, tag: str | None = None, cls: str | None = None) -> bool:
        return any((tag is None or t == tag) and (cls is None or cls in c) for t, c in self.stack)

    def handle_starttag(self, tag, attrs):
        classes = set((dict(attrs).get("class") or "").split())
        if tag == "div" and "cell_input" in classes and not self._inside("details", "above-input"):
            self.problems.append("code input shown")
        if tag == "div" and ("stream" in classes or "stderr" in classes) and "output" in classes:
            self.problems.append("stream output shown")
        if tag == "table" and not any(self._inside(cls=c) for c in SCROLLING):
            self.problems.append("table outside a scrolling box")
        if tag not in self.VOID:
            self.stack.append((tag, classes))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break


def reader_problems(html: str) -> list[str]:
    """What a reader of an executed page should not meet (an empty list when the page is clean);
    the parameters a page was computed with belong in its footer, not in a cell."""
    reader = _Reader()
    reader.feed(html)
    problems = sorted(set(reader.problems))
    if "train_missing = " in html or "injected-parameters" in html:
        problems.append("a parameters cell is on the page")
    return problems


def test_reader_check_sees_what_it_should():
    shown = '<div class="cell docutils container"><div class="cell_input docutils container">x</div></div>'
    folded = ('<details class="hide above-input"><summary>Show code</summary>'
              '<div class="cell_input docutils container">x</div></details>')
    stream = '<div class="output stream highlight-myst-ansi notranslate"><pre>read back</pre></div>'
    bare = "<table><tr><td>1</td></tr></table>"
    boxed = '<div class="microau-table"><table><tr><td>1</td></tr></table></div>'
    assert reader_problems(shown) == ["code input shown"]
    assert reader_problems(folded) == []
    assert reader_problems(stream) == ["stream output shown"]
    assert reader_problems(bare) == ["table outside a scrolling box"]
    assert reader_problems(boxed) == []
    assert reader_problems("<pre>train_missing = True</pre>") == ["a parameters cell is on the page"]


def _build(book: Path) -> Path:
    index = reproduce.build_book(book, ROOT, quiet=True)
    assert index.is_file()
    return index.parent


def _chromium(url: str, profile_dir: Path) -> str:
    exe = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not exe:
        pytest.fail("Chromium is not installed; the book test opens the built pages in it. Install "
                    "it with: apt-get update && apt-get install -y chromium")
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile_dir}", "--virtual-time-budget=5000", "--dump-dom", url]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_book_builds_on_a_fresh_clone(tmp_path):
    """No executed notebook: every reproduction page is a placeholder, and -W still passes."""
    book = copy_book(tmp_path / "book")
    html = _build(book)
    out = book / OUTPUT_DIR
    assert sorted(p.stem for p in out.glob("*.md")) == sorted(NOTEBOOKS)
    assert (out / ".gitignore").read_text().strip().endswith("*")
    page = _text((html / "reproduction" / "table2_ablation.html").read_text(encoding="utf-8"))
    assert "Not computed in this copy of the book" in page
    assert "microau reproduce --profile quick --only table2_ablation" in page
    assert "paper · CASME II F1" in page  # the paper's numbers are shown, labelled
    # the landing page (the book's root) still says what the book is, how to run it on one's own
    # data and how to cite, and how to compute what it reports
    landing = _text((html / "reproduction" / "summary.html").read_text(encoding="utf-8"))
    assert "Not computed in this copy of the book" in landing and "microau reproduce --profile quick" in landing
    assert "On your own CASME II or SAMM" in landing and "How to cite" in landing
    assert "reproduction/summary.html" in (html / "index.html").read_text(encoding="utf-8")
    for name in ("data", "method", "reproducing", "performance", "own_data",
                 "implementation_notes", "real_data_notes"):
        assert (html / f"{name}.html").is_file(), name
    method = (html / "method.html").read_text(encoding="utf-8")
    # autodoc rendered the functions next to the equations
    assert 'id="microau.model.tokens.landmark_token_index"' in method
    assert 'id="microau.losses.gd_loss"' in method
    # equations render offline: MathJax is served from the book, no CDN, and the footer is ours
    assert "cdn.jsdelivr" not in method and "mathjax/tex-mml-chtml.js" in method
    assert (html / "_static" / "mathjax" / "tex-mml-chtml.js").is_file()
    assert (html / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()
    assert "Copyright 2023" not in method and "microau contributors" in method


@pytest.mark.slow
def test_book_builds_with_executed_notebooks_and_renders(executed_book, tmp_path):
    failed = {k: v[0] for k, v in executed_book["results"].items() if v[0]}
    assert not failed, f"notebooks failed: {sorted(failed)}"
    book = executed_book["book"]
    html = _build(book)
    out = book / OUTPUT_DIR
    assert not list(out.glob("*.md")), "placeholders left although every notebook was executed"

    # the built table page holds the side-by-side table and the glued figure
    page = (html / "reproduction" / "table2_ablation.html").read_text(encoding="utf-8")
    assert "Not computed" not in page
    assert "<table" in page and "paper · CASME II" in page and "ours · phantom-casme2" in page
    imgs = re.findall(r'<img[^>]+src="([^"]+\.png)"', page)
    assert imgs, "no figure on the Table II page"
    for src in imgs:
        assert (html / "reproduction" / src).resolve().is_file(), src

    # every table and figure page reads as a reader meets it (see reader_problems)
    for name in NOTEBOOKS:
        if name.startswith(("table", "fig")):
            text = (html / "reproduction" / f"{name}.html").read_text(encoding="utf-8")
            assert not reader_problems(text), (name, reader_problems(text))
    # the landing page reports what the book found, computed, and links into the chapters
    landing = (html / "reproduction" / "summary.html").read_text(encoding="utf-8")
    assert not reader_problems(landing), reader_problems(landing)
    words = _text(landing)
    assert "Not computed" not in words and "What the book found" in words
    assert re.search(r"Of the \d+ comparisons between rows", words), "no counted finding"
    assert 'href="table2_ablation.html"' in landing and 'href="fig7_tsne.html"' in landing
    assert "How this page was computed" in words and "How to cite" in words
    # Findings: its claims table is whole (every column there) and scrolls in its own box
    findings = (html / "reproduction" / "findings.html").read_text(encoding="utf-8")
    assert not reader_problems(findings), reader_problems(findings)
    assert "seed band ±" in findings and "holds" in findings

    # and a browser renders it: index (redirects to the landing page) and the Table II page
    dom = _chromium((html / "index.html").as_uri(), tmp_path / "chromium")
    assert "Micro-AU CLIP" in dom and "Reproducing the tables and figures" in dom
    assert "What the book found" in dom
    assert "Table II" in dom  # the navigation lists the table pages
    dom = _chromium((html / "reproduction" / "table2_ablation.html").as_uri(), tmp_path / "chromium")
    assert re.search(r"<table[^>]*>", dom), "no table in the rendered Table II page"
    assert "paper · CASME II" in dom and "ours · phantom-casme2" in dom
    assert re.search(r'<figure[^>]*>.*?<img[^>]+\.png', dom, re.S), "no figure in the rendered page"
    assert "against" in dom and "paper · SAMM" in dom  # the computed comparison paragraph
