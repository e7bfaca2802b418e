"""CAS(ME)^3 Part A as it is distributed, as a spec for the one reader (:mod:`.reader`).

As read from public sources (the sheets and exception lists are public in the repository
``jingtingEmmaLi/CAS-ME-3``, ``annotation/partA/`` and ``exception/``; the frames are licensed).
Expected under the root::

    cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx     sheet 'label'
    spNO.1/a/color/123.jpg                        layout 'flat' (a video per letter, all its frames)
    RGB/spNO.1/a/color/123.jpg                    layout 'rgb' (the same under RGB/)
    exception/error_info_damaged_image_partA.txt  optional: frames that cannot be opened
    exception/image_with_bad_quality_partA.txt    optional: frames of bad quality

Sheet columns read: Subject, Filename, Onset, Apex, Offset, AU, emotion ('Objective class' is
read past). Every cell is stored as text; numbers are read from it. ``Filename`` is the letter of
a video, in either case; a video holds several expressions, so rows share (Subject, Filename) and
get clip ids ``<letter>-<onset>``. AU tokens carry L/R (side) and T/B (position) prefixes, joined
with '+' in no particular order: the AUs are kept without the prefix, the prefixed codes in
``Sample.sides``. A few rows have their apex outside onset..offset (the nearest frame inside is
used, noted) or an offset of 0 (read as not coded, noted); a row that cannot be read is left out
and counted. The frames both exception lists name are never used as onset or apex (the nearest
usable frame is taken, noted). Part C (``CAS(ME)3_part_C_ME.xlsx``: no apex, its own frame tree)
is not read.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

from .au_strings import cell_text
from .finders import find_sheet_matching
from .spec import FrameLayout, SheetSpec

log = logging.getLogger(__name__)

WHAT = "CAS(ME)^3 Part A"
SHEET_NAME = "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"
SHEET = "label"
COLUMNS = ("Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion")
COLUMNS_AS = (("onsetframe", ("onset",)), ("apexframe", ("apex",)), ("offsetframe", ("offset",)),
              ("actionunits", ("au",)), ("estimatedemotion", ("emotion",)))
REQUIRED = ("subject", "filename", "onsetframe", "apexframe", "offsetframe", "actionunits",
            "estimatedemotion")
CLIP_DIRS = "{subject}/{clip}/color"
LAYOUTS = (
    FrameLayout("rgb", "RGB", "{frame}.jpg", CLIP_DIRS),
    FrameLayout("flat", "", "{frame}.jpg", CLIP_DIRS),  # 'auto' when there is no RGB/ folder
)
EXCEPTION_DIR = "exception"
_SHEET_RE = r"^cas\(me\)\^?3_part_a_me_label.*\.xlsx?$"
_SUBJECT_RE = re.compile(r"^(?:sp\s*no\s*\.?\s*)?0*(\d+)$", re.IGNORECASE)
# 'spNO.3 J 498.jpg  the image cannot open'
_LISTED_LINE = re.compile(r"^\s*(sp\s*no\.?\s*\d+)\s+([A-Za-z]+)\s+(\d+)\.jpe?g\b\s*(.*)$", re.IGNORECASE)
# '/any/where/spNO.138/a/color/1294.jpg'
_LISTED_PATH = re.compile(r"(sp\s*no\.?\s*\d+)/([A-Za-z]+)/color/(\d+)\.jpe?g\s*$", re.IGNORECASE)


def find_sheet(root: Path) -> Path:
    exact = root / SHEET_NAME
    return exact if exact.is_file() else find_sheet_matching(root, WHAT, _SHEET_RE, SHEET_NAME)


def subject_id(cell: object) -> str:
    """'spNO.1', 'spno.1', 1, '1' -> 'spNO.1' (the folder name)."""
    text = cell_text(cell)
    m = _SUBJECT_RE.match(text)
    if not m:
        raise ValueError(f"subject {text!r} is not a CAS(ME)^3 subject (expected e.g. 'spNO.1')")
    return f"spNO.{int(m.group(1))}"


def clip_folder(filename: str) -> str:
    """A video's letter, 'A' or 'a' -> 'a' (the folder's case; another case is found too)."""
    return filename.strip().lower()


def damaged_frames(root: Path) -> dict[tuple[str, str, int], str]:
    """The frames the published exception lists name: {(subject, letter, frame): reason}, names
    in lower case. Both line forms of the repository's lists are read; other lines are ignored."""
    folder = root / EXCEPTION_DIR
    listed: dict[tuple[str, str, int], str] = {}
    if not folder.is_dir():
        return listed
    for path in sorted(folder.glob("*.txt")):
        kind = "bad quality" if "quality" in path.name.lower() else "cannot be opened"
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            m = _LISTED_LINE.match(line) or _LISTED_PATH.search(line)
            if m:
                subject = subject_id(re.sub(r"\s", "", m.group(1)))
                listed.setdefault((subject.lower(), m.group(2).lower(), int(m.group(3))),
                                  f"{EXCEPTION_DIR}/{path.name}: {kind}")
    if listed:
        log.info("%s: %d frames listed in %s/ are not used", WHAT, len(listed), EXCEPTION_DIR)
    return listed


SPEC = SheetSpec(
    what=WHAT, columns=COLUMNS, required=REQUIRED, layouts=LAYOUTS, find_sheet=find_sheet,
    subject_id=subject_id, root_holds=f"{SHEET_NAME} and the spNO.<n>/ frame folders",
    example=("spNO.1", "a", 123), columns_as=COLUMNS_AS, sheet=SHEET, lenient_rows=True,
    distinct_ids=True, zero_offset_uncoded=True, folder_case=True, clip_folder=clip_folder,
    damaged_frames=damaged_frames,
    note="several expressions per video (clip ids <letter>-<onset>); frames in exception/ lists avoided",
)
