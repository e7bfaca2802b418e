"""Reader for the licensed SAMM set, exactly as it is distributed.

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
from .loading import (check_root, missing_frames_error, read_coding_table, rows_to_samples,
                      sort_samples)
from .types import Sample

log = logging.getLogger(__name__)

WHAT = "SAMM"
SHEET_NAME = "SAMM_Micro_FACS_Codes_v2.xlsx"
FRAME_DIR = "SAMM"
LAYOUTS = ("nested", "flat")
REQUIRED = ("subject", "filename", "onsetframe", "apexframe", "offsetframe", "actionunits",
            "estimatedemotion")
_SHEET_RE = re.compile(r"^samm_micro_facs_codes.*\.xlsx$", re.IGNORECASE)
_SUBJECT_RE = re.compile(r"^0*(\d+)$")


def layout_help(layout: str | None = None) -> str:
    parts = []
    if layout in (None, "nested"):
        parts.append("'nested': <root>/SAMM/006/006_1_2/006_05562.jpg")
    if layout in (None, "flat"):
        parts.append("'flat': <root>/006/006_1_2/006_05562.jpg")
    return "; ".join(parts) + " (subject folder, clip folder, '<subject>_<frame:05d>.jpg')"


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


def detect_layout(root: Path, layout: str = "auto") -> str:
    if layout not in ("auto", *LAYOUTS):
        raise ValueError(f"{WHAT}: unknown layout {layout!r}; choose 'auto', 'nested' or 'flat'")
    if layout == "auto":
        return "nested" if (root / FRAME_DIR).is_dir() else "flat"
    if layout == "nested" and not (root / FRAME_DIR).is_dir():
        raise FileNotFoundError(
            f"{WHAT}: layout 'nested' needs the folder '{root / FRAME_DIR}', which does not "
            f"exist. Expected {layout_help('nested')}."
        )
    return layout


def subject_id(cell: object) -> str:
    """6, 6.0, '6', '006' -> '006' (three digits, leading zeros kept)."""
    text = cell_text(cell)
    m = _SUBJECT_RE.match(text)
    if not m:
        raise ValueError(
            f"subject {text!r} is not a SAMM subject number (expected e.g. 6 or '006')")
    return f"{int(m.group(1)):03d}"


def frame_path(root: Path, layout: str, subject: str, clip: str, frame: int) -> Path:
    base = root / FRAME_DIR if layout == "nested" else root
    return base / subject / clip / f"{subject}_{frame:05d}.jpg"


def load_samm(root: str | Path, layout: str = "auto", dataset: str = "samm") -> list[Sample]:
    """Read the SAMM coding sheet and check the onset/apex frames. See the module doc."""
    root = check_root(root, WHAT, f"{SHEET_NAME} and the SAMM/ frame folder")
    sheet = find_sheet(root)
    layout = detect_layout(root, layout)
    rows = read_coding_table(sheet, REQUIRED, f"{WHAT} sheet")
    samples, missing = rows_to_samples(
        rows, sheet_name=sheet.name, dataset=dataset, subject_id=subject_id,
        frame_path=lambda s, c, f: frame_path(root, layout, s, c, f),
    )
    if missing:
        hint = "" if layout == "nested" else (
            f" (no '{root / FRAME_DIR}' folder, so frames were looked for directly under the root)")
        err = missing_frames_error(missing, WHAT, layout_help(layout) + hint)
        raise err
    log.info("%s: %d clips from %s (layout '%s')", WHAT, len(samples), sheet.name, layout)
    return sort_samples(samples)
