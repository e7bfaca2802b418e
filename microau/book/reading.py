"""How an executed notebook reads as a page of the book: its code folded away behind a toggle,
its parameter cells (the notebook's defaults and papermill's injected values) removed, and no
stream output (logs, progress, prints) shown. Applied to every executed notebook under
``book/reproduction/`` when the book is built (``microau.book.sphinx_ext``), so a notebook
executed by any means reads the same; the executed ``.ipynb`` files themselves are left as they
are. The parameters a page was computed with are in its footer (``microau.report.colophon``).
"""
from __future__ import annotations

import json

PARAMETER_TAGS = ("parameters", "injected-parameters")  # ours, and the cell papermill adds after it
REMOVE = "remove-cell"
HIDE_INPUT = "hide-input"
SHOW_INPUT = "show-input"  # a code cell whose source the reader should see (none by default)
STREAM_TAG = "remove-stdout"  # myst-nb: drop stdout; stderr is dropped book-wide (_config.yml)
WIDE = "full-width"  # sphinx-book-theme: the cell may use the right margin too (wide tables)


def reading_tags(cell: dict) -> list[str]:
    """The tags a code cell gets on the page (markdown cells keep theirs)."""
    tags = list(cell.get("metadata", {}).get("tags", []))
    if cell.get("cell_type") != "code":
        return tags
    if any(t in tags for t in PARAMETER_TAGS):
        return tags + ([REMOVE] if REMOVE not in tags else [])
    if SHOW_INPUT not in tags and not {HIDE_INPUT, "remove-input", REMOVE} & set(tags):
        tags.append(HIDE_INPUT)
    if STREAM_TAG not in tags:
        tags.append(STREAM_TAG)
    if WIDE not in tags and any("<table" in str(o.get("data", {}).get("text/html", ""))
                                for o in cell.get("outputs", [])):
        tags.append(WIDE)
    return tags


def for_reading(notebook: dict) -> dict:
    """The notebook (nbformat JSON as a dict) with every cell tagged for reading; in place."""
    for cell in notebook.get("cells", []):
        tags = reading_tags(cell)
        if tags:
            cell.setdefault("metadata", {})["tags"] = tags
    return notebook


def source_for_reading(text: str) -> str:
    """An .ipynb file's text, tagged for reading (text that is not a notebook is returned as is)."""
    try:
        notebook = json.loads(text)
    except ValueError:
        return text
    if not isinstance(notebook, dict) or "cells" not in notebook:
        return text
    return json.dumps(for_reading(notebook), ensure_ascii=False)
