"""The layout every ablation-table page repeats, as one call."""
from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from .. import figures
from ..paper import paper_table
from .tables import comparison, comparison_table, per_au_table, provenance, styled

if TYPE_CHECKING:  # pragma: no cover
    from ..runs import Runs


def table_page(table_id: str, runs: "Runs", index_name: str = "", figure: str | None = "bars",
               metrics: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Show one table's page body: the paper and ours side by side (labelled by source), where
    our numbers come from, and a figure glued as ``<table_id>_figure`` ('bars' for ablations,
    'sweep' for Tables IV/V, None for none); ``metrics`` as in :func:`comparison`. Returns the tidy frame of :func:`comparison`."""
    from IPython.display import display
    from myst_nb import glue

    table = paper_table(table_id)
    long = comparison(table.id, runs, metrics=metrics)
    display(styled(comparison_table(long, index_name), caption=f"{table.title}: {table.caption}"))
    display(provenance(runs))
    show_per_au(runs, {r["variant"]: r["label"] for r in table.rows if r.get("variant")})
    if figure == "bars":
        glue(f"{table_id}_figure", figures.comparison_bars(long), display=False)
    elif figure == "sweep":
        glue(f"{table_id}_figure", figures.sweep_lines(long, table.parameter), display=False)
    elif figure is not None:
        raise ValueError(f"figure must be 'bars', 'sweep' or None, not {figure!r}")
    return long


def show_per_au(runs: "Runs", labels: dict[str, str] | None = None) -> None:
    """Display the per-AU F1 and accuracy of every run a page shows (ours; the paper prints
    only means)."""
    from IPython.display import display

    table = per_au_table(runs, labels)
    if not table.empty:
        display(styled(table, caption="Ours per AU (LOSO predictions of all folds concatenated)"))
