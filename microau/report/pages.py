"""The body every table page shows, as two calls: :func:`show_table` (the paper's table next to
ours, and its figure glued for the page's caption) and :func:`show_sentences` (the computed
reading). What differs between Tables II-X (sweeps, TextSi, other methods, label-free MER) is
decided here from the table's id, so the notebooks hold only their prose."""
from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from .. import figures
from ..paper import paper_table
from .labels import ours_label
from .side_by_side import side_by_side
from .tables import comparison, mer_details, mer_table, per_au_table, sota_table, styled, table_rows

if TYPE_CHECKING:  # pragma: no cover
    from ..runs import Runs

# the header of the row labels of each table (the paper prints none)
ROW_HEADER = {"table2": "LSI / GSD", "table3": "text encoder", "table4": "α", "table5": "β",
              "table6": "pooling", "table7": "global feature", "table8": "loss"}


def figure_key(table_id: str) -> str:
    """The glue key of a table page's figure (its ``{glue:figure}`` names it)."""
    return f"{table_id}_figure"


def table_metrics(table_id: str) -> tuple[str, ...]:
    """The metrics a table page compares: the table's, and TextSi where the paper prints it."""
    t = paper_table(table_id)
    extra = ("text_similarity",) if any("text_similarity" in r for r in t.rows) else ()
    return tuple(t.metrics) + extra


def table_page(table_id: str, runs: "Runs", index_name: str = "", figure: str | None = "bars",
               metrics: tuple[str, ...] | None = None, verdicts: pd.DataFrame | None = None) -> pd.DataFrame:
    """Show one table's page body: for each of our data sets, the paper's rows with the paper's
    numbers and ours side by side, each row's difference from the reference row with our seed
    band and verdict (:func:`~microau.report.side_by_side.side_by_side`; ``verdicts`` from
    :func:`~microau.report.verdicts.row_verdicts`, computed here when None), and a figure glued
    as ``<table_id>_figure`` ('bars' for ablations, 'sweep' for Tables IV/V, None for none);
    ``metrics`` as in :func:`comparison`. Returns the tidy frame of :func:`comparison`."""
    from IPython.display import display
    from myst_nb import glue

    from .verdicts import row_verdicts

    table = paper_table(table_id)
    long = comparison(table.id, runs, metrics=metrics)
    verdicts = verdicts if verdicts is not None else row_verdicts(table.id, runs)
    for dataset in runs.datasets:
        wide = side_by_side(long, verdicts, dataset)
        if not wide.empty:
            wide.index.name = index_name or wide.index.name
            display(styled(wide, caption=f"{table.title} on {ours_label(dataset)}: {table.caption}"))
    if figure == "bars":
        glue(figure_key(table_id), figures.comparison_bars(long), display=False)
    elif figure == "sweep":
        glue(figure_key(table_id), figures.sweep_lines(long, table.parameter), display=False)
    elif figure is not None:
        raise ValueError(f"figure must be 'bars', 'sweep' or None, not {figure!r}")
    return long


def show_table(page):
    """The table of a table page, whichever table it is; returns what :func:`show_sentences`
    reads (the tidy comparison, or the other methods' table)."""
    from IPython.display import display
    from myst_nb import glue

    table = paper_table(page.manifest.table)
    runs = page.runs
    if table.id == "table9":
        sota = sota_table(runs)
        display(styled(sota, caption=f"{table.title}: {table.caption}"))
        glue(figure_key(table.id), figures.sota_bars(sota), display=False)
        return sota
    if table.id == "table10":
        mer = mer_table(runs, tuple(table.variants))
        display(styled(mer, caption=f"{table.title}: {table.caption}"))
        details = mer_details(runs, tuple(table.variants))
        display(styled(details, caption="Label-free MER on our data, and always answering the most "
                                        "frequent class on the same clips"))
        glue(figure_key(table.id), figures.mer_bars(details, mer), display=False)
        return details
    return table_page(table.id, runs, ROW_HEADER.get(table.id, ""),
                      "sweep" if table.parameter else "bars", table_metrics(table.id), page.verdicts())


def show_sentences(page, shown) -> None:
    """The computed reading of a table page's numbers, noise-gated (``report.sentences``)."""
    from IPython.display import Markdown, display

    from .sentences import (describe_comparison, describe_mer, describe_shared_runs, describe_sota, describe_sweep,
                            describe_text_similarity)

    table = paper_table(page.manifest.table)
    if table.id == "table9":
        parts = [describe_sota(page.runs)]
    elif table.id == "table10":
        parts = [describe_mer(page.runs, tuple(table.variants))]
    else:
        parts = [describe_comparison(shown, page.runs, verdicts=page.verdicts())]
        if table.parameter:
            parts.insert(0, describe_sweep(shown, table.parameter))
        if "text_similarity" in table_metrics(table.id):
            parts.insert(0, describe_text_similarity(shown))
    if page.runs is not None:
        labels = {r["variant"]: r["label"] for r in table_rows(table.id) if r.get("variant")}
        parts.append(describe_shared_runs(page.runs, labels))
    display(Markdown("\n\n".join(p for p in parts if p)))


def show_per_au(runs: "Runs", labels: dict[str, str] | None = None) -> None:
    """Display the per-AU F1 and accuracy of every run a page shows (ours; the paper prints
    only means)."""
    from IPython.display import display

    table = per_au_table(runs, labels)
    if not table.empty:
        display(styled(table, caption="Ours per AU (LOSO predictions of all folds concatenated)"))
