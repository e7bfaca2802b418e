"""The paper's reported numbers (Tables II-X), read from ``microau/paper_results.yaml``.

That file is the only place the paper's numbers live. Everything else (notebooks, book, tests)
gets them from here::

    from microau.paper import paper_table
    t = paper_table("table2")
    t.frame()            # one row per printed row: label, variant, casme2_f1, casme2_acc, ...
    t.value("table2/lsi_gsd", "casme2", "f1")
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .data.registry import base_dataset

RESULTS_PATH = Path(__file__).with_name("paper_results.yaml")
TABLE_IDS = tuple(f"table{k}" for k in range(2, 11))


@functools.lru_cache(maxsize=1)
def load_paper_results() -> dict[str, Any]:
    """The whole YAML file as a dictionary (cached; treat it as read-only)."""
    with open(RESULTS_PATH, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def dataset_name(key: str) -> str:
    """'casme2' -> 'CASME II', 'samm' -> 'SAMM' (the paper's spelling)."""
    return load_paper_results()["dataset_names"].get(key, key)


def metric_name(key: str) -> str:
    return load_paper_results()["metric_names"].get(key, key.upper())


@dataclass(frozen=True)
class PaperTable:
    """One table of the paper: its rows, in the printed order."""

    id: str
    number: str
    caption: str
    section: str
    datasets: tuple[str, ...]
    metrics: tuple[str, ...]
    rows: tuple[dict, ...]
    parameter: str | None = None

    @property
    def title(self) -> str:
        return f"Table {self.number}"

    @property
    def variants(self) -> list[str]:
        """The microau variants that run this table's rows (rows of other methods have none)."""
        return [r["variant"] for r in self.rows if r.get("variant")]

    def row(self, key: str | int) -> dict:
        """A row by its variant key, its printed label or its 1-based row number."""
        for r in self.rows:
            if key in (r.get("variant"), r["label"], r["row"]):
                return r
        raise KeyError(f"{self.title} has no row {key!r}; rows: {[r['label'] for r in self.rows]}")

    def value(self, row: str | int, dataset: str, metric: str) -> float | None:
        """The printed value (None where the paper prints N/A)."""
        dataset = base_dataset(dataset)
        v = (self.row(row).get(dataset) or {}).get(metric)
        return None if v is None else float(v)

    def frame(self) -> pd.DataFrame:
        """Rows as a DataFrame: row, label, variant, extra fields, then '<dataset>_<metric>'."""
        records = []
        for r in self.rows:
            rec = {k: v for k, v in r.items() if k not in self.datasets}
            for d in self.datasets:
                for m in self.metrics:
                    v = (r.get(d) or {}).get(m)
                    rec[f"{d}_{m}"] = float("nan") if v is None else float(v)
            records.append(rec)
        return pd.DataFrame(records)


def paper_table(table_id: str) -> PaperTable:
    """``paper_table('table2')`` (also accepts 'II', 2 or 'Table II')."""
    table_id = _normalise_id(table_id)
    raw = load_paper_results()["tables"][table_id]
    return PaperTable(
        id=table_id,
        number=str(raw["number"]),
        caption=raw["caption"],
        section=str(raw["section"]),
        datasets=tuple(raw["datasets"]),
        metrics=tuple(raw["metrics"]),
        rows=tuple(raw["rows"]),
        parameter=raw.get("parameter"),
    )


_ROMAN = {"II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7, "VIII": 8, "IX": 9, "X": 10}


def _normalise_id(table_id: str | int) -> str:
    if isinstance(table_id, int):
        return f"table{table_id}"
    s = str(table_id).strip()
    if s.lower().startswith("table"):
        s = s[5:].strip()
    if s.upper() in _ROMAN:
        return f"table{_ROMAN[s.upper()]}"
    if s.isdigit():
        return f"table{int(s)}"
    raise KeyError(f"unknown table {table_id!r}; choose one of {TABLE_IDS}")
