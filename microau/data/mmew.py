"""MMEW (its micro-expressions) as it is distributed, as a spec for the one reader (:mod:`.reader`).

As read from public sources (the set's description and ``tvaranka/meb``'s reader; check them
against your copy). Expected under the root::

    MMEW_*.xlsx (any workbook whose name holds 'MMEW')
    Micro_Expression/<emotion>/<Filename>/<n>.jpg      layout 'micro'
    <emotion>/<Filename>/<n>.jpg                       layout 'flat'

Clips are filed by emotion, not by subject (the emotion folder is the sheet's Estimated Emotion,
found in any case). Sheet columns read: Subject, Filename, OnsetFrame, ApexFrame, OffsetFrame,
Action Units, Estimated Emotion (remarks is read past). An apex outside onset..offset takes the
nearest frame inside (noted); a row that cannot be read is left out and counted.
"""
from __future__ import annotations

from pathlib import Path

from .finders import find_sheet_matching, name_subject
from .spec import FrameLayout, SheetSpec

WHAT = "MMEW"
SHEET_EXAMPLE = "MMEW_Micro_Exp.xlsx"
COLUMNS = ("Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units",
           "Estimated Emotion", "remarks")
REQUIRED = ("subject", "filename", "onsetframe", "apexframe", "offsetframe", "actionunits",
            "estimatedemotion")
CLIP_DIRS = "{emotion}/{clip}"
LAYOUTS = (
    FrameLayout("micro", "Micro_Expression", "{frame}.jpg", CLIP_DIRS),
    FrameLayout("flat", "", "{frame}.jpg", CLIP_DIRS),  # 'auto' when there is no Micro_Expression/
)
_SHEET_RE = r"^.*mmew.*\.xlsx?$"


def find_sheet(root: Path) -> Path:
    return find_sheet_matching(root, WHAT, _SHEET_RE, SHEET_EXAMPLE)


def subject_id(cell: object) -> str:
    return name_subject(cell, WHAT, "S01")


SPEC = SheetSpec(
    what=WHAT, columns=COLUMNS, required=REQUIRED, layouts=LAYOUTS, find_sheet=find_sheet,
    subject_id=subject_id, root_holds="an MMEW workbook and the Micro_Expression/<emotion>/ folders",
    example=("S01", "1_1", 12), lenient_rows=True, folder_case=True,
    note="frames filed by emotion: <emotion>/<clip>/<n>.jpg",
)
