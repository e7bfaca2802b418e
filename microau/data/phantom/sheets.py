"""The phantom in the readers' own layouts: frame paths and sheet columns come from the CASME II
and SAMM specs (:mod:`microau.data.casme2`, :mod:`microau.data.samm`)."""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from .. import casme2, samm
from ..sheets import norm_header
from .labels import ClipPlan

# the layout each phantom is written in, and its sheet's file name
CASME2_LAYOUT = "raw"
SAMM_LAYOUT = "nested"
CASME2_SHEET = "CASME2-coding-phantom.xlsx"  # matches casme2.SHEET_PATTERN
SAMM_SHEET = samm.SHEET_NAME
CASME2_FRAMES = casme2.SPEC.layout(CASME2_LAYOUT).folder
SAMM_FRAMES = samm.SPEC.layout(SAMM_LAYOUT).folder
CASME2_COLUMNS = casme2.COLUMNS
SAMM_COLUMNS = samm.COLUMNS
# SAMM's 'Objective Classes' column (I-VII), filled from the emotion as a plausible stand-in.
_SAMM_OBJECTIVE = {
    "happiness": 1, "surprise": 2, "anger": 3, "disgust": 4, "fear": 5, "contempt": 6,
    "sadness": 7, "other": 7,
}
_SAMM_PREAMBLE = (
    ["SAMM micro-movement FACS codes -- PHANTOM (simulated data written by microau, not SAMM)"],
    ["Frames are synthetic faces; see phantom_truth.jsonl for the ground truth."],
    [],
    ["AU Help"],
    ["A-E", "Intensity, A trace to E maximum (e.g. 4B)"],
    ["L / R", "Left / right unilateral action (e.g. R12)"],
    ["+", "Actions occurring together"],
    [],
)


def frame_path(root: Path, like: str, subject: str, clip: str, frame: int) -> Path:
    """Where the reader of ``like`` looks for a frame of the phantom under ``root``."""
    if like == "casme2":
        return casme2.SPEC.frame_path(Path(root), CASME2_LAYOUT, subject, clip, frame)
    return samm.SPEC.frame_path(Path(root), SAMM_LAYOUT, subject, clip, frame)


def sheet_name(like: str) -> str:
    return CASME2_SHEET if like == "casme2" else SAMM_SHEET


def _sheet_au_value(s: str):
    """Pure-number AU cells are numbers in the real sheets ('4' -> 4)."""
    return int(s) if s.isdigit() else s


def _ordered(cells: dict[str, object], columns: tuple[str, ...]) -> list[object]:
    """A row's cells (keyed by normalised column name) in the sheet's column order."""
    return [cells[norm_header(c)] for c in columns]


def _casme2_row(plan: ClipPlan, aus: str) -> list[object]:
    return _ordered({
        "subject": int(plan.subject[3:]), "filename": plan.clip, "onsetframe": plan.onset_frame,
        "apexframe": plan.apex_frame, "offsetframe": plan.offset_frame,
        "actionunits": _sheet_au_value(aus), "estimatedemotion": plan.emotion,
    }, CASME2_COLUMNS)


def _samm_row(plan: ClipPlan, aus: str) -> list[object]:
    return _ordered({
        "subject": plan.subject, "filename": plan.clip, "inducementcode": plan.inducement,
        "onsetframe": plan.onset_frame, "apexframe": plan.apex_frame,
        "offsetframe": plan.offset_frame, "duration": plan.offset_frame - plan.onset_frame + 1,
        "micro": "Micro - 1/2", "actionunits": _sheet_au_value(aus),
        "estimatedemotion": plan.emotion.capitalize(),
        "objectiveclasses": _SAMM_OBJECTIVE.get(plan.emotion, 7), "notes": "",
    }, SAMM_COLUMNS)


def write_sheet(path: Path, like: str, rows: list[tuple[ClipPlan, str]]) -> None:
    """The coding sheet of ``like`` for (plan, AU cell) rows: CASME II's plain table, or SAMM's
    with note rows and an 'AU Help' block above the header."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    if like == "casme2":
        ws.title = "Sheet1"
        ws.append(list(CASME2_COLUMNS))
        for plan, aus in rows:
            ws.append(_casme2_row(plan, aus))
    else:
        ws.title = "FACS_Movement_Only"
        for line in _SAMM_PREAMBLE:
            ws.append(list(line))
        ws.append(list(SAMM_COLUMNS))
        for plan, aus in rows:
            ws.append(_samm_row(plan, aus))
    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(reproducible_xlsx(buf.getvalue()))


_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_STAMP = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")


def reproducible_xlsx(data: bytes) -> bytes:
    """The same workbook without the save time openpyxl writes (in each zip entry and in
    docProps/core.xml), so that a seed gives the same sheet bytes on every run."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = _STAMP.sub(rb"\g<1>2000-01-01T00:00:00Z\g<3>", body)
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            entry.compress_type, entry.external_attr = zipfile.ZIP_DEFLATED, info.external_attr
            dst.writestr(entry, body)
    return out.getvalue()
