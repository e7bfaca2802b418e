"""Writers of small CASME II / SAMM trees in the layouts the real datasets ship in.

The sheets are written cell by cell with openpyxl so that they look like the distributed ones:
CASME II with the two unnamed blank columns (2014-05-08 and 2019-07-01 column sets, the latter
with 'Objective Classes'); SAMM with notes and an 'AU Help' block above the header row. Frames
are tiny valid JPEGs, written only at the onset and apex frames.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from openpyxl import Workbook


@lru_cache(maxsize=1)
def tiny_jpeg() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (128, 90, 70)).save(buf, format="JPEG")
    return buf.getvalue()


def write_frame(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tiny_jpeg())


@dataclass(frozen=True)
class Row:
    """One coding-sheet row. ``apex`` is written as given (it may be '/', -1 or None);
    ``disk_apex`` is the apex frame written to disk when ``apex`` is not a frame number."""

    subject: object
    filename: str
    onset: object
    apex: object
    offset: object
    aus: object
    emotion: object
    disk_apex: int | None = None
    objective: object = None

    def frames_on_disk(self) -> list[int]:
        apex = self.apex if isinstance(self.apex, int) and self.apex >= 0 else self.disk_apex
        return [f for f in (self.onset, apex) if isinstance(f, int)]


# ----------------------------------------------------------------------------- CASME II
CASME2_ROWS: tuple[Row, ...] = (
    # deliberately not in (subject, clip) order, with every subject spelling the sheets use
    Row(3, "EP15_01", 30, 33, 50, "(R6 or R12)+R15", "repression", objective=3),
    Row(1, "EP02_01f", 46, 59, 86, "4+7+L10", "Disgust ", objective=3),
    Row("sub02", "EP01_11f", 100, "/", 140, "1+R2+25", " Surprise", disk_apex=120, objective=5),
    Row("01", "EP03_02", 10, 20, 40, "R12", "happiness", objective=1),
    Row(2, "EP09_04", 5, 9, 30, 12.0, "Others", objective=7),
    Row(3, "EP01_05", 7, 8, 20, "none", "fear", objective=2),
)

CASME2_HEADERS = {
    "2014": ("CASME2-coding-20140508.xlsx",
             ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", None,
              "Action Units", "Estimated Emotion", None]),
    "2019": ("CASME2-coding-20190701.xlsx",
             ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", None,
              "Action Units", "Estimated Emotion", None, "Objective Classes"]),
}
CASME2_FRAMES = {
    "raw": ("CASME2_RAW_selected", "img{frame}.jpg"),
    "cropped": ("Cropped", "reg_img{frame}.jpg"),
}


def _cell(value: object) -> object:
    return None if value == "" else value


def write_casme2_sheet(root: Path, rows=CASME2_ROWS, version: str = "2019",
                       name: str | None = None) -> Path:
    default_name, headers = CASME2_HEADERS[version]
    wb = Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    ws.append(headers)
    for r in rows:
        values = [r.subject, r.filename, _cell(r.onset), _cell(r.apex), _cell(r.offset), None,
                  _cell(r.aus), _cell(r.emotion), None]
        if version == "2019":
            values.append(r.objective)
        ws.append(values)
    root.mkdir(parents=True, exist_ok=True)
    path = root / (name or default_name)
    wb.save(path)
    return path


def casme2_subject_folder(subject: object) -> str:
    """The fixture's own spelling of the folder name (written independently of the loader)."""
    text = str(subject)
    digits = text[3:] if text.startswith("sub") else text
    return "sub" + digits.zfill(2)


def write_casme2_frames(root: Path, rows=CASME2_ROWS, layout: str = "raw") -> list[Path]:
    folder, pattern = CASME2_FRAMES[layout]
    written = []
    for r in rows:
        for frame in r.frames_on_disk():
            path = root / folder / casme2_subject_folder(r.subject) / r.filename / \
                pattern.format(frame=frame)
            write_frame(path)
            written.append(path)
    return written


def write_casme2(root: Path, rows=CASME2_ROWS, version: str = "2019",
                 layout: str = "raw") -> Path:
    write_casme2_sheet(root, rows, version)
    write_casme2_frames(root, rows, layout)
    return root


# ----------------------------------------------------------------------------- SAMM
SAMM_ROWS: tuple[Row, ...] = (
    Row(11, "011_3_1", 50, None, 90, "T18+39", "Contempt", disk_apex=70, objective="III"),
    Row(6, "006_1_2", 5562, 5588, 5632, "4+7", "Anger", objective="I"),
    Row("006", "006_1_5", 1000, -1, 1050, "R12", "Happiness", disk_apex=1025, objective="VII"),
    Row(7, "007_6_1", 200, 215, 240, "A1B+A2C", "Surprise", objective="VI"),
    Row(11, "011_2_3", 3000, 3010, 3040, "7B+ ref(43)", "Other", objective="VII"),
)
SAMM_SHEET = "SAMM_Micro_FACS_Codes_v2.xlsx"
SAMM_HEADERS = ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame",
                "Offset Frame", "Duration", "Micro", "Action Units", "Estimated Emotion",
                "Objective Classes", "Notes"]
SAMM_PREAMBLE = [
    ["SAMM - Spontaneous Micro-Facial Movement dataset: micro-movement FACS codes"],
    ["Frames are numbered from the start of each recording."],
    [],
    ["AU Help", "L = left", "R = right"],
    [None, "A-E = intensity", "ref = related AU, not coded"],
    ["AU Help 2", "T = top"],
    [],
]


def write_samm_sheet(root: Path, rows=SAMM_ROWS, footer: bool = True) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "MICRO_ONLY"
    for line in SAMM_PREAMBLE:
        ws.append(line)
    ws.append(SAMM_HEADERS)
    for r in rows:
        duration = r.offset - r.onset + 1 if isinstance(r.offset, int) else None
        ws.append([r.subject, r.filename, 1, _cell(r.onset), _cell(r.apex), _cell(r.offset),
                   duration, "Micro - 1/2", _cell(r.aus), _cell(r.emotion), r.objective,
                   None])
    if footer:
        ws.append([])
        ws.append(["* footnote: apex frames are the coder's estimate"])
    root.mkdir(parents=True, exist_ok=True)
    path = root / SAMM_SHEET
    wb.save(path)
    return path


def samm_subject_folder(subject: object) -> str:
    return str(subject).zfill(3)


def write_samm_frames(root: Path, rows=SAMM_ROWS, nested: bool = True) -> list[Path]:
    base = root / "SAMM" if nested else root
    written = []
    for r in rows:
        sub = samm_subject_folder(r.subject)
        for frame in r.frames_on_disk():
            path = base / sub / r.filename / f"{sub}_{str(frame).zfill(5)}.jpg"
            write_frame(path)
            written.append(path)
    return written


def write_samm(root: Path, rows=SAMM_ROWS, nested: bool = True) -> Path:
    write_samm_sheet(root, rows)
    write_samm_frames(root, rows, nested)
    return root
