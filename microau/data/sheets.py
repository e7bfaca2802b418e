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


def read_coding_table(path: Path, required: Iterable[str | tuple[str, ...]], what: str,
                      header_starts: tuple[str, ...] = ("subject",), sheet: str | None = None
                      ) -> list[SheetRow]:
    """Read the coding table of ``path``: the first sheet (or the sheet named ``sheet``) holding a
    row whose first non-empty cell is one of ``header_starts`` once normalised ('Subject'; the
    header may sit below notes, as in SAMM). Returns the rows below it that are not completely
    blank. ``required``: normalised headers, or tuples of which one must be present. Raises
    ValueError naming the missing columns."""
    import pandas as pd  # imported here so `microau --help` stays fast

    required = tuple(required)
    try:
        sheets = pd.read_excel(path, sheet_name=None, header=None, dtype=object)
    except Exception as err:  # corrupt file, not an xlsx, xlrd missing for an .xls ...
        hint = (" An .xls workbook needs the package xlrd (pip install xlrd), or save it as .xlsx "
                "next to the original." if Path(path).suffix.lower() == ".xls" else "")
        raise ValueError(f"{what}: could not read '{path}' as an Excel workbook ({err}).{hint}") from err
    if sheet is not None:
        chosen = {n: df for n, df in sheets.items() if str(n).strip().lower() == sheet.lower()}
        if not chosen:
            raise ValueError(f"{what}: '{path}' has no sheet named '{sheet}' (its sheets: "
                             f"{', '.join(map(str, sheets))}); the coding table lives there")
        sheets = chosen
    starts = {norm_header(h) for h in header_starts}
    problems = []
    for sheet_name, df in sheets.items():
        header_idx = start_col = None
        for i in range(len(df)):
            row = [cell_text(v) for v in df.iloc[i].tolist()]
            first = next((j for j, v in enumerate(row) if v != ""), None)
            if first is not None and norm_header(row[first]) in starts:
                header_idx, start_col = i, first
                break
        if header_idx is None:
            problems.append(f"sheet '{sheet_name}': no row starting with "
                            f"{' or '.join(repr(h) for h in header_starts)}")
            continue
        headers = [norm_header(v) for v in df.iloc[header_idx].tolist()]
        missing = [c if isinstance(c, str) else " or ".join(c) for c in required
                   if not any(h in headers for h in ((c,) if isinstance(c, str) else c))]
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
