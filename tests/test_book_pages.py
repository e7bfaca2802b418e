"""How an executed page reads, without executing one: the tags that fold code away and drop
parameter cells, the side-by-side table with its differences and verdicts, the tables' box and
alignment, the landing page's placeholder, and the claims every page opens with."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from microau.book import manifest
from microau.book.placeholders import placeholder_text
from microau.book.reading import for_reading, source_for_reading
from microau.report.claims import CLAIMS, claim_of
from microau.report.side_by_side import side_by_side
from microau.report.tables import styled

ROOT = Path(__file__).resolve().parents[1]


def _cell(kind, source, tags=()):
    return {"cell_type": kind, "source": source, "metadata": {"tags": list(tags)}, "outputs": []}


def test_parameter_cells_are_removed_and_code_folded_away():
    nb = {"cells": [_cell("markdown", "# Title"), _cell("code", "profile = 'quick'", ["parameters"]),
                    _cell("code", "profile = 'smoke'", ["injected-parameters"]),
                    _cell("code", "page = report.open_page('x', globals())"),
                    _cell("code", "print('shown')", ["show-input"]),
                    _cell("code", "x = 1", ["remove-input"])]}
    tags = [c["metadata"]["tags"] for c in for_reading(nb)["cells"]]
    assert tags[0] == []  # prose stays as written
    assert "remove-cell" in tags[1] and "remove-cell" in tags[2]  # ours and papermill's
    assert "hide-input" in tags[3] and "remove-stdout" in tags[3]
    assert "hide-input" not in tags[4] and "remove-stdout" in tags[4]  # asked to be seen: source kept
    assert "hide-input" not in tags[5]  # already removed, not toggled


def test_only_notebook_text_is_changed():
    assert source_for_reading("# a MyST page\n") == "# a MyST page\n"
    text = json.dumps({"cells": [_cell("code", "a = 1", ["parameters"])], "metadata": {}})
    assert json.loads(source_for_reading(text))["cells"][0]["metadata"]["tags"] == ["parameters", "remove-cell"]


def _long():
    rows = []
    for row, label, variant, paper, ours in ((1, "without A", "v/a", 0.70, 0.40), (2, "both", "v/b", 0.80, 0.50)):
        for metric, p, o in (("f1", paper, ours), ("acc", paper + 0.1, ours + 0.1)):
            rows.append({"table": "table2", "row": row, "label": label, "variant": variant,
                         "dataset": "phantom-samm", "base": "samm", "metric": metric, "paper": p,
                         "ours": o, "ours_se": np.nan, "ours_sd": np.nan, "n_seeds": 1})
    return pd.DataFrame(rows)


def _verdicts():
    return pd.DataFrame([{"data": "ours · phantom-samm", "row": "without A", "reference": "both",
                          "ours: row − reference": -0.10, "interval low": -0.2, "interval high": -0.05,
                          "seed band ±": 0.04, "verdict": "row below reference",
                          "paper: row − reference": -0.10, "agreement": "holds"}])


def test_side_by_side_puts_the_papers_number_next_to_ours_with_difference_and_band():
    wide = side_by_side(_long(), _verdicts(), "phantom-samm")
    cols = list(wide.columns)
    f1 = [c for c in cols if c[0] == "F1"]
    assert [c[1] for c in f1] == ["paper · SAMM", "ours · phantom-samm"]  # adjacent, labelled
    diff = [c for c in cols if c[0].startswith("F1: row")]
    assert [c[1] for c in diff] == ["paper · SAMM", "ours · phantom-samm", "seed band ±", "verdict"]
    assert wide.loc["without A", diff[1]] == pytest.approx(-0.10)
    assert wide.loc["without A", diff[3]] == "holds"
    assert wide.loc["both", diff[3]] == "reference" and np.isnan(wide.loc["both", diff[1]])


def test_tables_scroll_in_their_own_box_with_numbers_right_aligned():
    df = pd.DataFrame({"F1": [0.5, np.nan], "runs": pd.array([3, None], dtype="Int64"), "verdict": ["holds", "—"]})
    html = styled(df, "a caption")._repr_html_()
    assert html.startswith('<div class="microau-table">') and html.endswith("</div>")
    assert ">0.500<" in html and ">—<" in html and ">3<" in html  # fixed decimals, whole numbers whole
    right = set(re.findall(r"td\.(col\d+) \{\s*text-align: right;", html))
    assert right == {"col0", "col1"}  # the numbers, not the words
    css = (ROOT / "book" / "_static" / "microau.css").read_text()
    assert re.search(r"div\.microau-table,\s*div\.cell_output div\.output\.text_html \{\s*overflow-x: auto;", css)


def test_every_page_says_what_it_checks():
    assert set(CLAIMS) >= set(manifest.NOTEBOOKS)
    for name in manifest.NOTEBOOKS:
        c = claim_of(name)
        assert c.claim and not re.search(r"\d\.\d", c.claim), name  # words, never typed numbers
        if manifest.page(name).table:
            assert c.shows.startswith("Table"), name


def test_landing_placeholder_is_a_landing_page():
    """On a fresh clone the root page still says what the book is, how to run it on one's own
    data and how to cite, and how to compute the rest; its computed sections are left out."""
    text = placeholder_text(manifest.LANDING_PAGE, ROOT)
    assert "Not computed in this copy of the book" in text
    assert "microau reproduce --profile quick\n" in text
    for heading in ("## Reading on", "## On your own CASME II or SAMM", "## How to cite"):
        assert heading in text
    assert "## What the book found" not in text and "## How this page was computed" not in text
    other = placeholder_text("table2_ablation", ROOT)
    assert "--only table2_ablation" in other and "## Reading on" not in other
