"""Each page's verdicts counted: how many of the paper's comparisons hold on our data, are within
noise, are reversed, or could not be judged. The page opening and the landing page both count
with :func:`page_tally`, from the same noise-gated verdicts the page's sentences use."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..book.manifest import page as manifest_page
from .labels import ours_label
from .verdicts import agreement_counts, counts_words, paper_agreement, row_verdicts

if TYPE_CHECKING:  # pragma: no cover
    from ..runs import Runs

ROW_TABLES = ("table2", "table3", "table4", "table5", "table6", "table7", "table8")


@dataclass
class Tally:
    """Per data set (our label), a count per agreement; ``note`` says why nothing is counted."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    note: str = ""

    def total(self, kind: str) -> int:
        return sum(c.get(kind, 0) for c in self.counts.values())

    def words(self) -> str:
        if not self.counts:
            return self.note
        return "; ".join(f"*{d}*: {counts_words(c)}" for d, c in self.counts.items())


def mer_tally(runs: "Runs", variants: tuple[str, str] = ("table10/full", "table10/wo_gda")) -> Tally:
    """Table X: label-free UF1 with GDA against without, per data set, against the paper's F1."""
    from ..data.registry import base_dataset
    from ..paper import paper_table
    from .verdicts import mer_spreads, mer_verdict

    table = paper_table("table10")
    spreads = mer_spreads(runs)
    out = Tally(note="no label-free MER scores in these runs")
    for dataset in runs.datasets:
        full, wo = (runs.get(v, dataset) for v in variants)
        if full is None or wo is None or not (full.mer_metrics or {}).get("available"):
            continue
        v = mer_verdict(full, wo, spreads.get(dataset))
        base = base_dataset(dataset)
        a = paper_agreement(v, table.value(variants[0], base, "f1"), table.value(variants[1], base, "f1"))
        if a:
            out.counts[ours_label(dataset)] = {a: 1}
    return out


def page_tally(name: str, runs: "Runs | None", verdicts: pd.DataFrame | None = None) -> Tally:
    """The verdicts of page ``name`` counted. Table pages with a reference row count their rows
    (``verdicts``: the page's :func:`row_verdicts`, computed here when not given); Table X counts
    its GDA comparison; the other pages say where their verdicts are."""
    p = manifest_page(name)
    if p.control_runs:  # the controls page: no paper comparison to count
        from ..book.manifest import control_datasets

        if runs is not None and not control_datasets(runs.datasets):
            return Tally(note="needs the phantom: the controls are simulated")
        return Tally(note="stated mechanism by mechanism on the page, with and without its structure, "
                          "each noise-gated" if runs is not None and runs.results else
                          "not computed: its runs are missing")
    if p.cross_modes:  # the cross-set page: the model against the region baseline, no paper comparison
        if runs is not None and len(runs.datasets) < 2:
            return Tally(note="needs two or more data sets")
        return Tally(note="stated set by set on the page, the model against the region baseline, each "
                          "judged by its paired subject-bootstrap interval" if runs is not None and runs.results
                     else "not computed: its runs are missing")
    if runs is None or not runs.results:
        return Tally(note="not computed: its runs are missing")
    if p.table in ROW_TABLES:
        v = verdicts if verdicts is not None else row_verdicts(p.table, runs)
        return Tally(agreement_counts(v), "no row the paper orders")
    if p.table == "table10":
        return mer_tally(runs)
    if p.table == "table9":
        return Tally(note="not judged: the other methods were not re-run on our data")
    if p.figure_variants:
        return Tally(note="stated check by check on the page, against the phantom's ground truth, "
                          "each noise-gated")
    return Tally(note="")


def combined(tallies: dict[str, Tally]) -> Tally:
    """Several pages' counts added up per data set."""
    out = Tally(note="not computed: the runs of its pages are missing")
    for t in tallies.values():
        for data, c in t.counts.items():
            into = out.counts.setdefault(data, {})
            for k, n in c.items():
                into[k] = into.get(k, 0) + int(n)
    for data, c in out.counts.items():
        out.counts[data] = {k: c[k] for k in ("holds", "within noise", "reversed", "not judged") if k in c}
    return out


def summed(tallies: dict[str, Tally]) -> dict[str, int]:
    """Every page's counts added up, over data sets."""
    out: dict[str, int] = {}
    for t in tallies.values():
        for c in t.counts.values():
            for k, n in c.items():
                out[k] = out.get(k, 0) + int(n)
    return out


def as_row(t: Tally) -> dict[str, float]:
    """The counts of one page as numbers (NaN where nothing is counted), for the landing table."""
    from .verdicts import AGREEMENTS

    if not t.counts:
        return {k: np.nan for k in AGREEMENTS}
    return {k: t.total(k) for k in AGREEMENTS}
