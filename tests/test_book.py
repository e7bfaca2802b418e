"""The Jupyter Book builds offline with Sphinx warnings as errors, both on a fresh clone (no
notebook executed: placeholder pages) and after the notebooks have been executed at the smoke
profile (the session fixture of tests/test_notebooks.py), and its pages render in a headless
Chromium with their table and figure."""
from __future__ import annotations

import re
import shutil
import subprocess
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
    for name in ("intro", "data", "method", "reproducing", "performance", "own_data",
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

    # and a browser renders it: index (redirects to the introduction) and the Table II page
    dom = _chromium((html / "index.html").as_uri(), tmp_path / "chromium")
    assert "Micro-AU CLIP" in dom and "Reproducing the tables and figures" in dom
    assert "Table II" in dom  # the navigation lists the table pages
    dom = _chromium((html / "reproduction" / "table2_ablation.html").as_uri(), tmp_path / "chromium")
    assert re.search(r"<table[^>]*>", dom), "no table in the rendered Table II page"
    assert "paper · CASME II" in dom and "ours · phantom-casme2" in dom
    assert re.search(r'<figure[^>]*>.*?<img[^>]+\.png', dom, re.S), "no figure in the rendered page"
    assert "against" in dom and "paper · SAMM" in dom  # the computed comparison paragraph
