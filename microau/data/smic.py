"""SMIC (its high-speed part, HS) as it is distributed, as a spec for the one reader (:mod:`.reader`).

As read from public sources (the set's description and ``tvaranka/meb``'s reader; check them
against your copy). Expected under the root::

    SMIC_*.xlsx (any workbook whose name holds 'SMIC')
    HS/s1/micro/negative/s1_ne_01/<any name ending in the frame number>   layout 'hs'
    s1/micro/negative/s1_ne_01/...                                       layout 'flat'

Sheet columns read: Subject, Filename, Emotion, OnsetF, OffsetF. SMIC codes three emotion classes
(positive, negative, surprise) and **no action units** and no apex: the apex is the midpoint of
onset and offset, as meb reads it. So SMIC serves the label-free emotion recognition of Eq. 13 (a
model trained on an AU-coded set, tested on SMIC), never AU detection.
"""
from __future__ import annotations

import re
from pathlib import Path

from .au_strings import cell_text
from .finders import find_sheet_matching
from .spec import ANY_IMAGE, FrameLayout, SheetSpec

WHAT = "SMIC (HS)"
SHEET_EXAMPLE = "SMIC_HS_label.xlsx"
COLUMNS = ("Subject", "Filename", "Emotion", "OnsetF", "OffsetF")
COLUMNS_AS = (("onsetframe", ("onsetf", "onset", "onsetframe")),
              ("offsetframe", ("offsetf", "offset", "offsetframe")),
              ("estimatedemotion", ("emotion", "estimatedemotion")))
REQUIRED = ("subject", "filename", "onsetframe", "offsetframe", "estimatedemotion")
CLIP_DIRS = "{subject}/micro/{emotion}/{clip}"
LAYOUTS = (
    FrameLayout("hs", "HS", ANY_IMAGE, CLIP_DIRS),
    FrameLayout("flat", "", ANY_IMAGE, CLIP_DIRS),  # 'auto' when there is no HS/ folder
)
_SHEET_RE = r"^.*smic.*\.xlsx?$"
_SUBJECT_RE = re.compile(r"^s?0*(\d+)$", re.IGNORECASE)
NOT_AU_CODED = ("SMIC codes emotions only (positive, negative, surprise), no action units: it "
                "cannot train or test AU detection. It serves the label-free emotion recognition of "
                "Eq. 13: train on an AU-coded set and test on SMIC, e.g. microau loso --train casme2 "
                "--test smic --root smic=DIR")


def find_sheet(root: Path) -> Path:
    return find_sheet_matching(root, WHAT, _SHEET_RE, SHEET_EXAMPLE)


def subject_id(cell: object) -> str:
    """1, '1', 's1', 'S01' -> 's1' (the folder name)."""
    text = cell_text(cell)
    m = _SUBJECT_RE.match(text)
    if not m:
        raise ValueError(f"subject {text!r} is not a SMIC subject (expected e.g. 's1')")
    return f"s{int(m.group(1))}"


SPEC = SheetSpec(
    what=WHAT, columns=COLUMNS, required=REQUIRED, layouts=LAYOUTS, find_sheet=find_sheet,
    subject_id=subject_id, root_holds="a SMIC workbook and the HS/<subject>/micro/<emotion>/ folders",
    example=("s1", "s1_ne_01", 2186), columns_as=COLUMNS_AS, aus_coded=False, apex_coded=False,
    lenient_rows=True, folder_case=True, note="emotions only: label-free MER (Eq. 13), not AU detection",
)
