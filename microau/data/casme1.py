"""CASME (the first CASME set) as it is distributed, as a spec for the one reader (:mod:`.reader`).

As read from public sources (the set's description and ``tvaranka/meb``'s reader; check them
against your copy). Expected under the root::

    CASME_label_Ver_2.xlsx (or .xls)          any workbook named CASME_*.xls(x), not CASME2
    CASME_raw_selected/sub01/EP01_5/EP01_5-1.jpg         layout 'raw'
    CASME_cropped/sub01/EP01_5/reg_EP01_5-1.jpg          layout 'cropped'
    sub01/EP01_5/<any name ending in the frame number>.jpg   layout 'flat'

Sheet columns read: Subject, Filename, OnsetF, ApexF1 (ApexF2 is read past), OffsetF, an AU column
('Action Units', 'AU' or 'AUs') and Emotion. The sheet has typos (onsets, offsets and apexes that
do not match the frames, as meb's reader notes): an apex outside onset..offset takes the nearest
frame inside, noted; a row that cannot be read is left out and counted.
"""
from __future__ import annotations

import re
from pathlib import Path

from .au_strings import cell_text
from .finders import find_sheet_matching
from .spec import ANY_IMAGE, FrameLayout, SheetSpec

WHAT = "CASME"
SHEET_EXAMPLE = "CASME_label_Ver_2.xlsx"
COLUMNS = ("Subject", "Filename", "OnsetF", "ApexF1", "ApexF2", "OffsetF", "Action Units", "Emotion")
COLUMNS_AS = (("onsetframe", ("onsetf", "onsetframe")), ("apexframe", ("apexf1", "apexf", "apexframe")),
              ("offsetframe", ("offsetf", "offsetframe")), ("actionunits", ("actionunits", "au", "aus")),
              ("estimatedemotion", ("emotion", "estimatedemotion")))
REQUIRED = ("subject", "filename", "onsetframe", "apexframe", "offsetframe", "actionunits",
            "estimatedemotion")
LAYOUTS = (
    FrameLayout("raw", "CASME_raw_selected", "{clip}-{frame}.jpg"),
    FrameLayout("cropped", "CASME_cropped", "reg_{clip}-{frame}.jpg"),
    FrameLayout("flat", "", ANY_IMAGE),  # 'auto' when neither folder exists
)
_SHEET_RE = r"^casme(?![ _-]?(?:2|ii|\^|\(|3))[^/]*\.xlsx?$"
_SUBJECT_RE = re.compile(r"^(?:sub)?[\s_-]*0*(\d+)$", re.IGNORECASE)


def find_sheet(root: Path) -> Path:
    return find_sheet_matching(root, WHAT, _SHEET_RE, SHEET_EXAMPLE)


def subject_id(cell: object) -> str:
    """1, '1', '01', 'sub01' -> 'sub01'."""
    text = cell_text(cell)
    m = _SUBJECT_RE.match(text)
    if not m:
        raise ValueError(f"subject {text!r} is not a CASME subject (expected e.g. 1 or 'sub01')")
    return f"sub{int(m.group(1)):02d}"


SPEC = SheetSpec(
    what=WHAT, columns=COLUMNS, required=REQUIRED, layouts=LAYOUTS, find_sheet=find_sheet,
    subject_id=subject_id, root_holds=f"a CASME_*.xlsx sheet (e.g. {SHEET_EXAMPLE}) and the frame folders",
    example=("sub01", "EP01_5", 1), columns_as=COLUMNS_AS, lenient_rows=True, folder_case=True,
    note="ApexF1 is the apex; typo rows are left out, counted",
)
