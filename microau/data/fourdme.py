"""4DME (its 2D frames) as it is distributed, as a spec for the one reader (:mod:`.reader`).

As read from public sources (the set's description and ``tvaranka/meb``'s reader; check them
against your copy). Expected under the root::

    4DME_*.xlsx (any workbook whose name holds '4DME')
    <sub_ID>/<fold_name>/<any name ending in the frame number>.jpg

Sheet columns read: sub_ID, fold_name, Emotion, Onset, Apex, Offset, AUs (the header row starts
with sub_ID). AU tokens may carry an 'AU' prefix ('AU12') and a '(k)' mark ('AU4(k)'): an AU
marked '(k)' is not counted as coded, as meb reads the sheet (our reading: the mark sets the AU
apart from the expression's own), noted; the prefix is read past.
"""
from __future__ import annotations

import re
from pathlib import Path

from .au_strings import ParsedAUs, cell_text, parse_au_string
from .finders import find_sheet_matching, name_subject
from .spec import ANY_IMAGE, FrameLayout, SheetSpec

WHAT = "4DME"
SHEET_EXAMPLE = "4DME_Labelling_Micro.xlsx"
COLUMNS = ("sub_ID", "fold_name", "Emotion", "Onset", "Apex", "Offset", "AUs")
COLUMNS_AS = (("subject", ("subid",)), ("filename", ("foldname",)), ("onsetframe", ("onset",)),
              ("apexframe", ("apex",)), ("offsetframe", ("offset",)), ("actionunits", ("aus", "au")),
              ("estimatedemotion", ("emotion",)))
REQUIRED = ("subject", "filename", "onsetframe", "apexframe", "offsetframe", "actionunits",
            "estimatedemotion")
LAYOUTS = (FrameLayout("flat", "", ANY_IMAGE),)
_SHEET_RE = r"^.*4dme.*\.xlsx?$"
_K_MARK = re.compile(r"\(\s*k\s*\)", re.IGNORECASE)


def find_sheet(root: Path) -> Path:
    return find_sheet_matching(root, WHAT, _SHEET_RE, SHEET_EXAMPLE)


def subject_id(cell: object) -> str:
    return name_subject(cell, WHAT, "S01")


def parse_aus(cell: object) -> ParsedAUs:
    """4DME's AU cell: '(k)'-marked AUs are left out (noted, kept in ``referenced``); the rest is
    read by :func:`microau.data.au_strings.parse_au_string` ('AU' prefixes included)."""
    raw = cell_text(cell)
    terms = [t.strip() for t in re.split(r"[+,;]", raw) if t.strip()]
    marked = [t for t in terms if _K_MARK.search(t)]
    kept = "+".join(t for t in terms if not _K_MARK.search(t))
    parsed = parse_au_string(kept if marked else cell)
    if not marked:
        return parsed
    left_out = parse_au_string("+".join(_K_MARK.sub("", t) for t in marked))
    notes = [f"'{t}': marked '(k)'; not counted as coded (as meb reads 4DME)" for t in marked]
    aus = parsed.aus - left_out.aus if kept else frozenset()
    return ParsedAUs(aus=aus, notes=(*(() if not kept else parsed.notes), *notes),
                     ambiguous=parsed.ambiguous if kept else False,
                     referenced=parsed.referenced | left_out.aus, raw=raw,
                     sides=parsed.sides if kept else ())


SPEC = SheetSpec(
    what=WHAT, columns=COLUMNS, required=REQUIRED, layouts=LAYOUTS, find_sheet=find_sheet,
    subject_id=subject_id, root_holds="a 4DME workbook and the <sub_ID>/<fold_name>/ frame folders",
    example=("S01", "S01_0101", 12), columns_as=COLUMNS_AS, header_starts=("sub_ID",), parse_aus=parse_aus,
    lenient_rows=True, folder_case=True, note="AUs marked '(k)' are not counted; 'AU' prefixes read past",
)
