"""One executed book page: the papermill parameters it was run with, the runs it reads back
(quietly: nothing but the page's own output is printed), what it opens with and how it ends.

Every notebook starts the same way, with its parameters cell and then::

    page = report.open_page("table2_ablation", globals())

which reads the parameters papermill set, loads the runs the page shows (``microau.book.manifest``;
missing ones are trained only with ``train_missing``) and displays the page's opening: the paper's
claim, our data and the verdict. ``page.per_au()`` and ``page.footer()`` end it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..book.manifest import page as manifest_page

if TYPE_CHECKING:  # pragma: no cover
    from ..runs import Runs

PARAMETERS = ("datasets", "profile", "data_root", "device", "runs_dir", "train_missing", "overrides")


@dataclass
class BookPage:
    """A page's parameters and runs. ``runs`` is None for a page that shows no LOSO run."""

    name: str
    datasets: list[str]
    profile: str = "quick"
    data_root: dict | None = None
    device: str = "cpu"
    runs_dir: str | None = None
    train_missing: bool = True
    overrides: dict = field(default_factory=dict)
    runs: "Runs | None" = None
    started: float = field(default_factory=time.perf_counter)
    executed: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    extra_runs: dict = field(default_factory=dict)  # page name -> Runs read for this page
    _verdicts: dict = field(default_factory=dict)
    _spreads: Any = None
    _shown: Any = None
    _cross: Any = None  # (scores, paired) of the cross-set runs against the baseline

    @property
    def manifest(self):
        return manifest_page(self.name)

    @property
    def parameters(self) -> dict:
        return {k: getattr(self, k) for k in PARAMETERS}

    def runs_of(self, name: str) -> "Runs":
        """The runs of another page (``includes`` of the manifest), read as this page's were."""
        if name == self.name and self.runs is not None:
            return self.runs
        if name not in self.extra_runs:
            self.extra_runs[name] = self._subset(name) or _load(name, self.parameters)
        return self.extra_runs[name]

    def _subset(self, name: str) -> "Runs | None":
        """Another page's runs taken from this page's, when this page read every one of them
        (Findings reads the union of its pages' runs): nothing is read twice."""
        from ..runs import Runs

        other = manifest_page(name)
        if self.runs is None or other.seeds or self.runs.seeds:
            return None
        keys = [(v, d) for d in self.datasets for v in other.variants]
        if not keys or any(k not in self.runs.results for k in keys):
            return None
        return Runs(results={k: self.runs.results[k] for k in keys}, datasets=self.runs.datasets,
                    profile=self.runs.profile, context=dict(self.runs.context))

    def cross_runs(self) -> dict:
        """Evaluation label -> the full model's run of each cross-set evaluation of the manifest
        (``cross_modes``; ``microau.cross``), read once and kept in ``extra_runs['cross']`` (keys
        ('full', label)) so that the footer counts them; {} with fewer than two data sets."""
        from ..cross import load_cross_runs, plan
        from ..runs import Runs

        if "cross" not in self.extra_runs:
            modes = self.manifest.cross_modes if len(self.datasets) > 1 else ()
            found = load_cross_runs([plan(m, self.datasets) for m in modes], "full", self.profile, self.data_root,
                                    self.device, self.runs_dir, self.train_missing, self.overrides)
            self.extra_runs["cross"] = Runs(results={("full", label): r for label, r in found.items()},
                                            datasets=tuple(self.datasets), profile=self.profile,
                                            context={"runs": self.runs_dir})
        return {key[1]: r for key, r in self.extra_runs["cross"].items()}

    def cross_against_baseline(self) -> tuple:
        """(scores, paired) of the cross-set runs against the region baseline on the same clips
        and folds (``microau.cross.against_baseline``), computed once; (None, {}) without runs."""
        from ..cross import against_baseline

        if self._cross is None:
            runs = self.cross_runs()
            self._cross = against_baseline(runs) if runs else (None, {})
        return self._cross

    def all_runs(self) -> list:
        """Every run this page has read, its own and its included pages' (each once)."""
        seen, out = set(), []
        for runs in [self.runs, *self.extra_runs.values()]:
            for _, r in (runs.items() if runs is not None else []):
                key = str(getattr(r, "run_dir", id(r)))
                if key not in seen:
                    seen.add(key)
                    out.append(r)
        return out

    def spreads(self) -> dict:
        """Per data set, the full model's seed spread (``report.verdicts.seed_spreads``), read once."""
        from .verdicts import seed_spreads

        if self._spreads is None:
            runs = self.runs if self.runs is not None else next(iter(self.extra_runs.values()), None)
            self._spreads = seed_spreads(runs) if runs is not None else {}
        return self._spreads

    def verdicts(self, name: str | None = None):
        """The row verdicts of the table of page ``name`` (default: this page), each row against
        the table's reference row (``report.verdicts.row_verdicts``), computed once."""
        from .verdicts import row_verdicts

        name = name or self.name
        if name not in self._verdicts:
            table = manifest_page(name).table
            runs = self.runs_of(name)
            self._verdicts[name] = (row_verdicts(table, runs, self.spreads()) if table and runs is not None
                                    and table not in NO_ROW_VERDICTS else _empty())
        return self._verdicts[name]

    def by_table(self) -> dict:
        """Table id -> runs, for the pages this one includes (the Findings chapter)."""
        return {manifest_page(n).table: self.runs_of(n) for n in self.manifest.includes}

    def verdicts_by_table(self) -> dict:
        """Table id -> row verdicts, for the pages this one includes."""
        return {manifest_page(n).table: self.verdicts(n) for n in self.manifest.includes}

    def table(self) -> None:
        """The paper's table next to ours, with its figure glued (``report.pages.show_table``)."""
        from .pages import show_table

        self._shown = show_table(self)

    def sentences(self) -> None:
        """The computed, noise-gated reading of the table (``report.pages.show_sentences``)."""
        from .pages import show_sentences

        if self._shown is None:
            raise RuntimeError("call page.table() before page.sentences()")
        show_sentences(self, self._shown)

    def opening(self) -> str:
        """Markdown: what the page shows (the paper's claim), on which data, and the verdict."""
        from .opening import opening_markdown

        return opening_markdown(self)

    def per_au(self) -> None:
        """Display the per-AU F1 and accuracy of every run the page shows, rows named as on the page."""
        from .pages import show_per_au

        if self.runs is not None:
            show_per_au(self.runs, row_labels(self.name))

    def footer(self) -> None:
        """Display how the page was computed (``report.colophon``)."""
        from IPython.display import Markdown, display

        from .colophon import colophon_markdown

        display(Markdown(colophon_markdown(self)))


NO_ROW_VERDICTS = ("table9", "table10")  # no reference row: other methods, or label-free MER


def _empty():
    import pandas as pd

    return pd.DataFrame()


def row_labels(name: str) -> dict[str, str]:
    """Variant -> how the page names its row: the paper's row label, or the figure's model name."""
    from .tables import table_rows

    p = manifest_page(name)
    labels = {v: n for n, v in p.figure_variants.items()}
    if p.table:
        labels.update({r["variant"]: r["label"] for r in table_rows(p.table) if r.get("variant")})
    return labels


def _load(name: str, params: dict) -> "Runs | None":
    from ..runs import load_control_runs, load_page_runs, load_seed_runs

    p = manifest_page(name)
    args = (name, params["datasets"], params["profile"], params["data_root"], params["device"],
            params["runs_dir"], params["train_missing"], params["overrides"])
    if p.control_runs:  # the controls page: its runs on the phantoms and their controls (none on licensed data)
        return load_control_runs(*args)
    if p.seeds:
        return load_seed_runs(*args)
    if p.variants:
        return load_page_runs(*args, verbose=False)
    return None


def open_page(name: str, namespace: dict, show_opening: bool = True) -> BookPage:
    """The page ``name`` with the parameters its notebook holds in ``namespace`` (its
    ``globals()``, where papermill's injected cell set them), its runs read back and, with
    ``show_opening``, its opening displayed."""
    missing = [k for k in PARAMETERS if k not in namespace]
    if missing:
        raise KeyError(f"the notebook of {name} defines no parameter(s) {missing}: its parameters "
                       f"cell must set {', '.join(PARAMETERS)}")
    page = BookPage(name, **{k: namespace[k] for k in PARAMETERS})
    page.datasets = list(page.datasets)
    page.overrides = dict(page.overrides or {})
    page.runs = _load(name, page.parameters)
    for other in page.manifest.includes:
        page.runs_of(other)
    if page.manifest.cross_modes:
        page.cross_runs()
    if show_opening:
        from IPython.display import Markdown, display

        display(Markdown(page.opening()))
    return page
