"""Old import paths of the data layer, kept while callers move: the readers live in
:mod:`.reader` (specs in :mod:`.casme2`, :mod:`.samm`), dataset rules in :mod:`.registry`,
statistics in :mod:`.summary`."""
from __future__ import annotations

from pathlib import Path

from . import registry
from .reader import check_root, sort_samples  # noqa: F401
from .sheets import SheetRow, frame_number, norm_header, read_coding_table  # noqa: F401
from .summary import (  # noqa: F401
    PAPER_MIN_COUNT,
    AUSelection,
    Summary,
    format_summary,
    selected_au_counts,
    summarize,
)
from .types import Sample


def read_dataset(base: str, root: str | Path, layout: str = "auto", dataset: str | None = None
                 ) -> list[Sample]:
    """Samples of a CASME II (``base='casme2'``) or SAMM copy; see :func:`registry.read_base`."""
    return registry.read_base(base, root, layout=layout, dataset=dataset)


def load_samples(dataset: str, root: str | Path, layout: str = "auto") -> list[Sample]:
    """Deprecated alias of :func:`microau.data.registry.load_samples`."""
    return registry.load_samples(dataset, root, layout=layout)
