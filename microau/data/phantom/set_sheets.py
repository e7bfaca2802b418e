"""The coding sheets of the phantoms of CAS(ME)^3 Part A, CASME, 4DME, MMEW and SMIC, as those
sets spell them (columns from each set's spec; cell types, AU spelling and the typos the real
sheets carry), plus CAS(ME)^3's published exception list. Each writer records in the clip's
ground truth what the reader should make of its row (``truth['expect']``)."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Callable

from .. import casme1, casme3, fourdme, mmew, smic
from .labels import ClipPlan
from .sheets import reproducible_xlsx

Rows = list[tuple[ClipPlan, dict]]


def _save(path: Path, sheets: list[tuple[str, list[list[object]]]]) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for title, lines in sheets:
        ws = wb.create_sheet(title)
        for line in lines:
            ws.append(line)
    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(reproducible_xlsx(buf.getvalue()))


def _aus(plan: ClipPlan, fmt: Callable[[int, str], str] = lambda au, side: f"{side}{au}",
         order=sorted) -> str:
    return "+".join(fmt(au, plan.sides.get(au, "")) for au in order(plan.aus)) or "none"


def _number(cell: str) -> object:
    return int(cell) if cell.isdigit() else cell


def _expect(truth: dict, plan: ClipPlan, **more) -> None:
    truth["expect"] = dict(dict(subject=plan.subject, clip=plan.clip, onset=plan.onset_frame,
                                apex=plan.apex_frame, aus=sorted(plan.aus)), **more)


def write_casme3(path: Path, rows: Rows) -> None:
    """Sheet 'label' (after a notes sheet), every cell text; letters in either case; AU tokens with
    side and position prefixes in no order; a few apexes outside onset..offset, offsets of 0, and
    one row whose onset is a typo (left out by the reader)."""
    lines = [list(casme3.COLUMNS)]
    for k, (plan, truth) in enumerate(rows):
        letter = plan.clip.split("-")[0]
        apex, offset = plan.apex_frame, plan.offset_frame
        cell_apex, cell_offset = str(apex), str(offset)
        if k % 7 == 3:
            cell_apex = str(offset + 4)  # apex outside onset..offset: the reader takes frame `apex`
        elif k % 11 == 5:
            cell_offset = "0"  # offset 0: read as not coded
        fmt = (lambda au, side: f"T{au}" if au == 4 and not side else f"{side}{au}") if k % 5 == 0 else \
            (lambda au, side: f"{side}{au}")
        cell_aus = _aus(plan, fmt, order=lambda a: sorted(a, reverse=True))
        lines.append([plan.subject, letter.upper() if k % 4 == 1 else letter, str(plan.onset_frame),
                      cell_apex, cell_offset, cell_aus, str(1 + k % 7), plan.emotion])
        _expect(truth, plan, au_cell=cell_aus)
    if rows:
        plan = rows[0][0]
        lines.append([plan.subject, plan.clip.split("-")[0], f"{plan.onset_frame}o", str(plan.apex_frame),
                      str(plan.offset_frame), "4", "1", "others"])  # a typo row: left out, counted
    _save(path, [("readme", [["PHANTOM: simulated data in the layout of CAS(ME)^3 Part A"]]),
                 (casme3.SHEET, lines)])


def write_casme(path: Path, rows: Rows) -> None:
    """CASME's columns with its two unnamed blank columns and an empty ApexF2."""
    header = ["Subject", "Filename", None, "OnsetF", "ApexF1", "ApexF2", "OffsetF", None, "Action Units",
              "Emotion"]
    assert [h for h in header if h] == list(casme1.COLUMNS)
    lines = [header]
    for plan, truth in rows:
        cell = _aus(plan)
        lines.append([int(plan.subject[3:]), plan.clip, None, plan.onset_frame, plan.apex_frame, None,
                      plan.offset_frame, None, _number(cell), plan.emotion])
        _expect(truth, plan)
    _save(path, [("Sheet1", lines)])


def write_4dme(path: Path, rows: Rows) -> None:
    """AU tokens with an 'AU' prefix; the AUs outside the clip's main ones marked '(k)'."""
    lines = [list(fourdme.COLUMNS)]
    for k, (plan, truth) in enumerate(rows):
        marked = [a for a in plan.nuisance_aus if k % 2 == 0]
        cell = _aus(plan, lambda au, side: f"AU{side}{au}" + ("(k)" if au in marked else ""))
        lines.append([plan.subject, plan.clip, plan.emotion.capitalize(), plan.onset_frame, plan.apex_frame,
                      plan.offset_frame, cell])
        _expect(truth, plan, aus=sorted(set(plan.aus) - set(marked)), au_cell=cell)
    _save(path, [("Sheet1", lines)])


def write_mmew(path: Path, rows: Rows) -> None:
    """CASME II's columns plus remarks; the emotion (also the frame folder) in either case."""
    lines = [list(mmew.COLUMNS)]
    for k, (plan, truth) in enumerate(rows):
        cell = _aus(plan)
        emotion = plan.emotion.capitalize() if k % 2 else plan.emotion
        lines.append([plan.subject, plan.clip, plan.onset_frame, plan.apex_frame, plan.offset_frame,
                      _number(cell), emotion, ""])
        _expect(truth, plan)
    _save(path, [("Sheet1", lines)])


def write_smic(path: Path, rows: Rows) -> None:
    """Emotions only: no AU, no apex (the reader takes the midpoint, where the apex was drawn)."""
    lines = [list(smic.COLUMNS)]
    for plan, truth in rows:
        lines.append([int(plan.subject[1:]), plan.clip, plan.emotion, plan.onset_frame, plan.offset_frame])
        _expect(truth, plan, aus=[])
    _save(path, [("Sheet1", lines)])


def write_extras(root: Path, name: str, rows: Rows, frame_path: Callable[[ClipPlan, int], Path]) -> None:
    """CAS(ME)^3's exception lists: the first clip's apex frame is listed as damaged (and its file
    cut short, as a damaged file is), the frame after it holds the apex image; frames no clip uses
    are listed too, in both line forms of the published lists."""
    if name != "casme3" or not rows:
        return
    plan, truth = rows[0]
    apex = frame_path(plan, plan.apex_frame)
    data = apex.read_bytes()
    frame_path(plan, plan.apex_frame + 1).write_bytes(data)
    apex.write_bytes(data[: len(data) // 2])
    truth["expect"]["apex"] = plan.apex_frame + 1
    letter = plan.clip.split("-")[0]
    folder = root / casme3.EXCEPTION_DIR
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "error_info_damaged_image_partA.txt").write_text(
        f"{plan.subject} {letter.upper()} {plan.apex_frame}.jpg  the image cannot open\n"
        f"{plan.subject} {letter.upper()} 99999.jpg  the image cannot open\n")
    (folder / "image_with_bad_quality_partA.txt").write_text(
        f"/date/databases/casme3/RGB/{plan.subject}/{letter}/color/99998.jpg\n")
