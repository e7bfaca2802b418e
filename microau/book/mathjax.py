"""MathJax served with the book instead of from a CDN, so that equations render offline.

The MathJax 3 distribution comes from the PyPI package ``django-static-mathjax`` (plain static
files; importable as ``mathjax``). Only the CommonHTML renderer, its fonts, the TeX input
extensions and the menu are copied into the built book's ``_static/mathjax/``.
"""
from __future__ import annotations

import importlib.util
import logging
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

ENTRY = "tex-mml-chtml.js"  # TeX and MathML input, CommonHTML output
KEEP = (ENTRY, "input", "output/chtml", "ui", "a11y", "adaptors")


def distribution() -> Path | None:
    """The installed MathJax ``es5`` folder, or None when the package is missing."""
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        return None
    es5 = Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax" / "es5"
    return es5 if (es5 / ENTRY).is_file() else None


def copy_into(static_dir: Path) -> Path:
    """Copy the parts of MathJax the book uses into ``static_dir/mathjax``; returns the entry
    script. Raises FileNotFoundError (saying what to install) when MathJax is not installed."""
    src = distribution()
    if src is None:
        raise FileNotFoundError("MathJax is not installed: `pip install django-static-mathjax` "
                                "(the book serves it itself so that equations render offline)")
    dst = Path(static_dir) / "mathjax"
    for part in KEEP:
        s, d = src / part, dst / part
        if s.is_dir():
            shutil.copytree(s, d, dirs_exist_ok=True)
        elif s.is_file():
            d.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(s, d)
    return dst / ENTRY
