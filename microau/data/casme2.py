"""The licensed CASME II set as it is distributed, as a spec for the one reader (:mod:`.reader`).

Expected under the root::

    CASME2-coding-20190701.xlsx          (or -20140508; the newest dated one is used)
    CASME2_RAW_selected/sub01/EP02_01f/img46.jpg        layout 'raw'
    Cropped/sub01/EP02_01f/reg_img46.jpg                layout 'cropped'

Sheet columns used: Subject, Filename, OnsetFrame, ApexFrame, OffsetFrame, Action Units,
Estimated Emotion (others, such as 'Objective Classes' of the 2019 sheet and the unnamed blank
columns, are ignored). Only the onset and apex frames must exist.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

from .au_strings import cell_text
from .spec import FrameLayout, SheetSpec
from .sheets import norm_header

log = logging.getLogger(__name__)

WHAT = "CASME II"
SHEET_PATTERN = "CASME2-coding-*.xlsx"
# the columns read, as the distributed sheets spell them
COLUMNS = ("Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units",
           "Estimated Emotion")
REQUIRED = tuple(norm_header(c) for c in COLUMNS)
LAYOUTS = (
    FrameLayout("raw", "CASME2_RAW_selected", "img{frame}.jpg"),
    FrameLayout("cropped", "Cropped", "reg_img{frame}.jpg"),  # 'auto' prefers raw when both exist
)
_SHEET_RE = re.compile(r"^casme2-coding-.*\.xlsx$", re.IGNORECASE)
_DATE_RE = re.compile(r"((?:19|20)\d{2})[-_.]?(\d{2})[-_.]?(\d{2})")
_SUBJECT_RE = re.compile(r"^(?:sub)?[\s_-]*0*(\d+)$", re.IGNORECASE)


def find_sheet(root: Path) -> Path:
    """The coding sheet under ``root``; the newest by the date in its name if several match."""
    candidates = sorted(p for p in root.iterdir()
                        if p.is_file() and _SHEET_RE.match(p.name) and not p.name.startswith("~$"))
    if not candidates:
        raise FileNotFoundError(
            f"{WHAT}: no coding sheet matching '{SHEET_PATTERN}' in '{root}'. Put the sheet that "
            "ships with the dataset (e.g. CASME2-coding-20190701.xlsx) in the root folder."
        )

    def date_key(path: Path) -> tuple[str, str]:
        m = _DATE_RE.search(path.stem)
        return ("".join(m.groups()) if m else "", path.name)

    chosen = max(candidates, key=date_key)
    if len(candidates) > 1:
        others = ", ".join(p.name for p in candidates if p != chosen)
        log.info("%s: %d coding sheets match %s; using the newest by the date in its name: %s "
                 "(ignoring %s)", WHAT, len(candidates), SHEET_PATTERN, chosen.name, others)
    return chosen


def subject_id(cell: object) -> str:
    """1, 1.0, '1', '01', 'sub01', 'Sub01' -> 'sub01'."""
    text = cell_text(cell)
    m = _SUBJECT_RE.match(text)
    if not m:
        raise ValueError(f"subject {text!r} is not a CASME II subject (expected e.g. 1 or 'sub01')")
    return f"sub{int(m.group(1)):02d}"



SPEC = SheetSpec(
    what=WHAT, columns=COLUMNS, required=REQUIRED, layouts=LAYOUTS, find_sheet=find_sheet,
    subject_id=subject_id, root_holds=f"{SHEET_PATTERN} and CASME2_RAW_selected/ (or Cropped/)",
    example=("sub01", "EP02_01f", 46),
)
