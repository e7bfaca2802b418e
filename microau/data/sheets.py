"""Coding sheets as tables: find the header row, read the rows below it, read frame-number cells."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .au_strings import cell_text

log = logging.getLogger(__name__)


def norm_header(name: object) -> str:
    """'Onset Frame', 'OnsetFrame', ' onset_frame ' -> 'onsetframe'."""
    return re.sub(r"[^a-z0-9]", "", cell_text(name).lower())


@dataclass
class SheetRow:
    """One data row of a coding sheet: cells keyed by normalised header, plus where it came from."""

    cells: dict[str, object]
    excel_row: int  # 1-based row number as Excel shows it

    def get(self, key: str) -> object:
        return self.cells.get(key)


def read_coding_table(path: Path, required: Iterable[str], what: str) -> list[SheetRow]:
    """Read the coding table of ``path``: the first sheet holding a row whose first non-empty cell
    is 'Subject' (the header may sit below notes, as in SAMM). Returns the rows below it that are
    not completely blank. Raises ValueError naming the missing columns."""
    import pandas as pd  # imported here so `microau --help` stays fast

    required = tuple(required)
    try:
        sheets = pd.read_excel(path, sheet_name=None, header=None, dtype=object)
    except Exception as err:  # corrupt file, not an xlsx, ...
        raise ValueError(f"{what}: could not read '{path}' as an Excel workbook ({err})") from err
    problems = []
    for sheet_name, df in sheets.items():
        header_idx = start_col = None
        for i in range(len(df)):
            row = [cell_text(v) for v in df.iloc[i].tolist()]
            first = next((j for j, v in enumerate(row) if v != ""), None)
            if first is not None and row[first].strip().lower() == "subject":
                header_idx, start_col = i, first
                break
        if header_idx is None:
            problems.append(f"sheet '{sheet_name}': no row starting with 'Subject'")
            continue
        headers = [norm_header(v) for v in df.iloc[header_idx].tolist()]
        missing = [c for c in required if c not in headers]
        if missing:
            found = [cell_text(v) for v in df.iloc[header_idx].tolist() if cell_text(v)]
            problems.append(
                f"sheet '{sheet_name}' (header on row {header_idx + 1}): missing column(s) "
                f"{missing}; found {found}"
            )
            continue
        if header_idx > 0:
            log.info("%s: header of '%s' found on row %d of sheet '%s'", what, path.name,
                     header_idx + 1, sheet_name)
        rows = []
        for i in range(header_idx + 1, len(df)):
            values = df.iloc[i].tolist()
            cells: dict[str, object] = {}
            for j, key in enumerate(headers):
                if j < start_col or not key or key.startswith("unnamed") or key in cells:
                    continue
                cells[key] = values[j]
            if all(cell_text(v) == "" for v in values):
                continue  # blank row (trailing rows, spacer rows)
            rows.append(SheetRow(cells=cells, excel_row=i + 1))
        return rows
    raise ValueError(
        f"{what}: no coding table in '{path}' ({'; '.join(problems)}). Expected a header row "
        f"with the columns {list(required)} (spelling and spaces are not significant)."
    )


_FRAME_TEXT = re.compile(r"^\s*(\d+)(?:\.0+)?\s*$")


def frame_number(cell: object) -> int | None:
    """A frame number cell as int; None for non-numeric ('/', '', NaN) or negative (-1) cells."""
    text = cell_text(cell)
    m = _FRAME_TEXT.match(text)
    if not m:
        return None
    return int(m.group(1))
