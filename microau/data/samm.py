"""The licensed SAMM set as it is distributed, as a spec for the one reader (:mod:`.reader`).

Expected under the root::

    SAMM_Micro_FACS_Codes_v2.xlsx
    SAMM/006/006_1_2/006_05562.jpg      layout 'nested' (subject folder, clip folder,
                                        '{subject}_{frame:05d}.jpg')
    006/006_1_2/006_05562.jpg           layout 'flat' (the same folders directly under the root)

The sheet's header is not its first row: notes and an 'AU Help' block sit above it, so the header
is the row whose first cell is 'Subject'. Columns used: Subject, Filename, Onset Frame,
Apex Frame, Offset Frame, Action Units, Estimated Emotion (Inducement Code, Duration, Micro,
Objective Classes and Notes are read past). Only the onset and apex frames must exist.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

from .au_strings import cell_text
from .spec import FrameLayout, SheetSpec
from .sheets import norm_header

log = logging.getLogger(__name__)

WHAT = "SAMM"
SHEET_NAME = "SAMM_Micro_FACS_Codes_v2.xlsx"
FRAME_DIR = "SAMM"
# the sheet's columns as distributed, in order; the reader needs REQUIRED among them
COLUMNS = (
    "Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame",
    "Duration", "Micro", "Action Units", "Estimated Emotion", "Objective Classes", "Notes",
)
REQUIRED = tuple(norm_header(c) for c in COLUMNS if c in (
    "Subject", "Filename", "Onset Frame", "Apex Frame", "Offset Frame", "Action Units",
    "Estimated Emotion"))
LAYOUTS = (
    FrameLayout("nested", FRAME_DIR, "{subject}_{frame:05d}.jpg"),
    FrameLayout("flat", "", "{subject}_{frame:05d}.jpg"),  # 'auto' when there is no SAMM/ folder
)
_SHEET_RE = re.compile(r"^samm_micro_facs_codes.*\.xlsx$", re.IGNORECASE)
_SUBJECT_RE = re.compile(r"^0*(\d+)$")


def find_sheet(root: Path) -> Path:
    exact = root / SHEET_NAME
    if exact.is_file():
        return exact
    others = sorted(p for p in root.iterdir()
                    if p.is_file() and _SHEET_RE.match(p.name) and not p.name.startswith("~$"))
    if others:
        chosen = others[-1]
        log.info("%s: '%s' not found; using '%s' (last by name of %s)", WHAT, SHEET_NAME,
                 chosen.name, [p.name for p in others])
        return chosen
    raise FileNotFoundError(
        f"{WHAT}: coding sheet '{exact}' not found. Put {SHEET_NAME} (it ships with the dataset) "
        "in the root folder."
    )


def subject_id(cell: object) -> str:
    """6, 6.0, '6', '006' -> '006' (three digits, leading zeros kept)."""
    text = cell_text(cell)
    m = _SUBJECT_RE.match(text)
    if not m:
        raise ValueError(
            f"subject {text!r} is not a SAMM subject number (expected e.g. 6 or '006')")
    return f"{int(m.group(1)):03d}"



SPEC = SheetSpec(
    what=WHAT, columns=COLUMNS, required=REQUIRED, layouts=LAYOUTS, find_sheet=find_sheet,
    subject_id=subject_id, root_holds=f"{SHEET_NAME} and the SAMM/ frame folder",
    example=("006", "006_1_2", 5562),
    layout_note=" (subject folder, clip folder, '<subject>_<frame:05d>.jpg')",
)
