"""Reader for the licensed CASME II set, exactly as it is distributed.

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
from .loading import (check_root, missing_frames_error, read_coding_table, rows_to_samples,
                      sort_samples)
from .types import Sample

log = logging.getLogger(__name__)

WHAT = "CASME II"
SHEET_PATTERN = "CASME2-coding-*.xlsx"
LAYOUTS = {
    # layout -> (folder under the root, frame file name pattern)
    "raw": ("CASME2_RAW_selected", "img{frame}.jpg"),
    "cropped": ("Cropped", "reg_img{frame}.jpg"),
}
REQUIRED = ("subject", "filename", "onsetframe", "apexframe", "offsetframe", "actionunits",
            "estimatedemotion")
_SHEET_RE = re.compile(r"^casme2-coding-.*\.xlsx$", re.IGNORECASE)
_DATE_RE = re.compile(r"((?:19|20)\d{2})[-_.]?(\d{2})[-_.]?(\d{2})")
_SUBJECT_RE = re.compile(r"^(?:sub)?[\s_-]*0*(\d+)$", re.IGNORECASE)


def layout_help(layout: str | None = None) -> str:
    parts = []
    for name, (folder, pattern) in LAYOUTS.items():
        if layout in (None, name):
            parts.append(f"'{name}': <root>/{folder}/sub01/EP02_01f/{pattern.format(frame=46)}")
    return "; ".join(parts)


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


def detect_layout(root: Path, layout: str = "auto") -> str:
    if layout not in ("auto", *LAYOUTS):
        raise ValueError(f"{WHAT}: unknown layout {layout!r}; choose 'auto', 'raw' or 'cropped'")
    if layout == "auto":
        for name, (folder, _) in LAYOUTS.items():  # raw first: preferred when both exist
            if (root / folder).is_dir():
                log.debug("%s: layout '%s' (found %s/)", WHAT, name, folder)
                return name
        raise FileNotFoundError(
            f"{WHAT}: no frame folder in '{root}': expected '{root / 'CASME2_RAW_selected'}' or "
            f"'{root / 'Cropped'}'. Layouts: {layout_help()}."
        )
    folder = LAYOUTS[layout][0]
    if not (root / folder).is_dir():
        raise FileNotFoundError(
            f"{WHAT}: layout '{layout}' needs the folder '{root / folder}', which does not exist. "
            f"Expected {layout_help(layout)}."
        )
    return layout


def subject_id(cell: object) -> str:
    """1, 1.0, '1', '01', 'sub01', 'Sub01' -> 'sub01'."""
    text = cell_text(cell)
    m = _SUBJECT_RE.match(text)
    if not m:
        raise ValueError(f"subject {text!r} is not a CASME II subject (expected e.g. 1 or 'sub01')")
    return f"sub{int(m.group(1)):02d}"


def frame_path(root: Path, layout: str, subject: str, clip: str, frame: int) -> Path:
    folder, pattern = LAYOUTS[layout]
    return root / folder / subject / clip / pattern.format(frame=frame)


def load_casme2(root: str | Path, layout: str = "auto", dataset: str = "casme2") -> list[Sample]:
    """Read the CASME II coding sheet and check the onset/apex frames. See the module doc."""
    root = check_root(root, WHAT, f"{SHEET_PATTERN} and CASME2_RAW_selected/ (or Cropped/)")
    sheet = find_sheet(root)
    layout = detect_layout(root, layout)
    rows = read_coding_table(sheet, REQUIRED, f"{WHAT} sheet")
    samples, missing = rows_to_samples(
        rows, sheet_name=sheet.name, dataset=dataset, subject_id=subject_id,
        frame_path=lambda s, c, f: frame_path(root, layout, s, c, f),
    )
    if missing:
        raise missing_frames_error(missing, WHAT, layout_help(layout))
    log.info("%s: %d clips from %s (layout '%s')", WHAT, len(samples), sheet.name, layout)
    return sort_samples(samples)
