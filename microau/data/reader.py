"""The one sheet reader: a data set's spec (:mod:`.spec`; ``casme2.py``, ``samm.py`` and the other
sets' modules hold them) and its root in, Samples out.

What a row may not do: name a path (Filename, subject folder, frame file, links included) that
resolves outside the layout's frame folder; the load then stops with an error naming each such
row and cell. A row whose apex frame lies outside onset..offset or has no image gets the nearest
existing frame inside the clip instead, with a note; a missing onset frame stays an error.

For the sets whose spec says ``lenient_rows`` (the sets beyond CASME II and SAMM, whose sheets
carry typos), a row that cannot be read (no Subject, an onset that is not a frame number) is left
out, logged and counted in :class:`SheetReading.skipped`, never a refusal of the whole set. A
frame the set's published list calls damaged is never used: an apex moves to the nearest usable
frame, an onset to the next one before the apex (each noted)."""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..aus import emotion3
from .au_strings import ParsedAUs, cell_text, parse_au_string
from .frame_tree import FrameTree
from .sheets import SheetRow, frame_number, read_coding_table
from .spec import SheetSpec
from .types import Sample

log = logging.getLogger(__name__)

APEX_NOTE = "apex frame"  # how every note on the apex frame begins
KEPT = "kept as coded"  # ... and what the one that changes nothing says
ONSET_NOTE = "onset frame"  # how a note on a moved onset frame begins


class RowProblem(ValueError):
    """A sheet row that cannot become a Sample (an error, or a counted skip for lenient specs)."""


def check_root(root: str | Path, what: str, expected: str) -> Path:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(
            f"{what} root '{root}' does not exist or is not a folder; pass the folder that "
            f"holds {expected}"
        )
    return root


def sort_samples(samples: list[Sample]) -> list[Sample]:
    return sorted(samples, key=lambda s: (s.subject, s.clip, s.onset_frame, s.apex_frame))


@dataclass
class SheetReading:
    """Everything one read of a data set's sheet and frame tree found (``doctor --data`` prints it)."""

    what: str
    sheet: Path
    layout: str
    rows: int  # data rows of the sheet
    samples: list[Sample]
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (sheet row, why) rows left out
    missing: list[tuple[str, Path]] = field(default_factory=list)  # (clip id, path) frames not found
    refused: list[str] = field(default_factory=list)  # cells leading outside the frame folder
    tree: FrameTree | None = None


def read_sheet(spec: SheetSpec, root: str | Path, layout: str = "auto", dataset: str = "") -> SheetReading:
    """Read ``spec``'s coding sheet under ``root`` and check the frames each row needs, without
    raising for missing frames or cells that lead outside (they are listed in the result)."""
    root = check_root(root, spec.what, spec.root_holds)
    sheet = spec.find_sheet(root)
    layout = spec.detect_layout(root, layout)
    rows = read_coding_table(sheet, spec.required_columns(), f"{spec.what} sheet",
                             header_starts=spec.header_starts, sheet=spec.sheet)
    damaged = spec.damaged_frames(root) if spec.damaged_frames else {}
    tree = FrameTree(root, spec.layout(layout), folder_case=spec.folder_case, damaged=damaged)
    reading = SheetReading(spec.what, sheet, layout, len(rows), [], tree=tree)
    rows_to_samples(rows, sheet_name=sheet.name, dataset=dataset, subject_id=spec.subject_id, tree=tree,
                    spec=spec, into=reading)
    return reading


def read_samples(spec: SheetSpec, root: str | Path, layout: str = "auto",
                 dataset: str = "") -> list[Sample]:
    """Read ``spec``'s coding sheet under ``root`` and check the frames each row needs; Samples
    sorted by (subject, clip), carrying the name ``dataset``."""
    reading = read_sheet(spec, root, layout, dataset)
    tree = reading.tree
    if reading.refused:
        raise outside_root_error(reading.refused, spec.what, tree)
    if reading.missing:
        raise missing_frames_error(reading.missing, spec.what, spec.layout_help(reading.layout)
                                   + _flat_hint(spec, tree.root, reading.layout))
    skipped = f"; {len(reading.skipped)} row(s) left out (listed by microau doctor --data)" \
        if reading.skipped else ""
    log.info("%s: %d clips from %s (layout '%s')%s", spec.what, len(reading.samples), reading.sheet.name,
             reading.layout, skipped)
    return sort_samples(reading.samples)


def _flat_hint(spec: SheetSpec, root: Path, layout: str) -> str:
    """Why frames were looked for directly under the root (a layout without a folder)."""
    if spec.layout(layout).folder:
        return ""
    absent = [lay.frame_dir(root) for lay in spec.layouts if lay.folder]
    return "".join(f" (no '{p}' folder, so frames were looked for directly under the root)"
                   for p in absent)


def missing_frames_error(missing: list[tuple[str, Path]], what: str, layout_help: str
                         ) -> FileNotFoundError:
    shown = "\n".join(f"  {sid}: {path}" for sid, path in missing[:10])
    more = f"\n  ... and {len(missing) - 10} more" if len(missing) > 10 else ""
    return FileNotFoundError(
        f"{what}: {len(missing)} onset/apex frame(s) missing, expected at:\n{shown}{more}\n"
        f"Expected layout: {layout_help}. Only the onset and apex frames of each clip are needed."
    )


def outside_root_error(refused: list[str], what: str, tree: FrameTree) -> ValueError:
    shown = "\n".join(f"  {line}" for line in refused[:10])
    more = f"\n  ... and {len(refused) - 10} more" if len(refused) > 10 else ""
    return ValueError(
        f"{what}: {len(refused)} sheet cell(s) lead outside the frame folder '{tree.base}' "
        f"(links followed); nothing was read from there:\n{shown}{more}\n"
        "A Filename cell is the name of a clip folder (such as EP02_01f or 006_1_2). Fix these "
        "cells, or copy the frames into the frame folder instead of linking to another place."
    )


def resolve_frames(row: SheetRow, where: str, spec: SheetSpec | None = None
                   ) -> tuple[int, int, int | None, list[str]]:
    """(onset, apex, offset, notes) as coded in a sheet row. A non-numeric or -1 apex falls back
    to the midpoint of onset and offset (rounded down), with a note and a log line; so does every
    apex of a set that codes none (``spec.apex_coded``), without a note. ``spec.zero_offset_uncoded``:
    an offset of 0 reads as not coded, with a note."""
    onset_cell, apex_cell, offset_cell = (
        row.get("onsetframe"), row.get("apexframe"), row.get("offsetframe"))
    onset = frame_number(onset_cell)
    if onset is None:
        raise RowProblem(
            f"{where}: onset frame {cell_text(onset_cell)!r} is not a frame number; "
            "fix the sheet cell (the onset frame is needed for the optical flow)"
        )
    apex = frame_number(apex_cell)
    offset = frame_number(offset_cell)
    notes: list[str] = []
    if offset == 0 and spec is not None and spec.zero_offset_uncoded and onset > 0:
        note = f"offset frame 0 read as not coded (sheet row {row.excel_row})"
        log.warning("%s: %s", where, note)
        notes.append(note)
        offset = None
    coded = spec is None or spec.apex_coded
    if apex is None or not coded:
        if offset is None or offset < onset:
            raise RowProblem(
                f"{where}: apex frame {cell_text(apex_cell)!r} is not a frame number and the "
                f"offset frame {cell_text(offset_cell)!r} cannot stand in for it; fix the sheet"
            )
        apex = (onset + offset) // 2
        if coded:
            text = cell_text(apex_cell)
            what = "is empty" if text == "" else f"{text!r} is not a frame number"
            if text.strip().startswith("-"):
                what = f"{text!r} means 'not coded'"
            note = (f"{APEX_NOTE} {what}: using the midpoint of onset {onset} and offset {offset} "
                    f"= {apex} (sheet row {row.excel_row})")
            log.warning("%s: %s", where, note)
            notes.append(note)
    return onset, apex, offset, notes


def is_apex_fallback(note: str) -> bool:
    """True for a note saying the apex frame used is not the one coded in the sheet."""
    return note.startswith(APEX_NOTE) and KEPT not in note


def place_apex(tree: FrameTree, subject: str, clip: str, onset: int, apex: int,
               offset: int | None, excel_row: int, emotion: str = "") -> tuple[int, str | None]:
    """The apex frame to use, and a note when it is not ``apex`` as coded.

    Coded inside onset..offset with a usable image: used as coded. Otherwise the usable frame on
    disk nearest to the coded apex in onset+1..offset (the later frames of the folder when the
    offset is not coded; the earlier frame on a tie). With no such frame the coded apex stays:
    noted when it lies outside the range; reported missing (an error) when it has no image.
    """
    inside = offset is None or onset <= apex <= offset
    folder = tree.clip_dir(subject, clip, emotion)
    listed = tree.listed(folder, apex)
    if inside and listed is None and tree.path(subject, clip, apex, emotion).is_file():
        return apex, None
    frames = tree.frames(subject, clip, emotion)
    last = offset if offset is not None else max(frames, default=onset)
    candidates = [f for f in frames if onset < f <= last]
    span = f"onset..offset {onset}..{offset}"
    why = (f"lies outside {span}" if not inside else f"is listed as damaged ({listed})" if listed
           else "has no image in the clip's folder")
    if not candidates:
        if inside:
            return apex, None  # reported missing by the caller
        return apex, (f"{APEX_NOTE} {apex} lies outside {span}; {KEPT} (no other frame "
                      f"of the clip inside it) (sheet row {excel_row})")
    used = min(candidates, key=lambda f: (abs(f - apex), f))
    return used, (f"{APEX_NOTE} {apex} {why}: using frame {used}, the existing frame nearest to "
                  f"it inside the clip (sheet row {excel_row})")


def place_onset(tree: FrameTree, subject: str, clip: str, onset: int, apex: int, excel_row: int,
                emotion: str = "") -> tuple[int, str | None]:
    """The onset frame to use: as coded unless the published list calls it damaged; then the next
    usable frame before the apex, noted (RowProblem when there is none)."""
    listed = tree.listed(tree.clip_dir(subject, clip, emotion), onset)
    if listed is None:
        return onset, None
    later = sorted(f for f in tree.frames(subject, clip, emotion) if onset < f < apex)
    if not later:
        raise RowProblem(f"onset frame {onset} is listed as damaged ({listed}) and no usable frame "
                         f"lies between it and the apex {apex} (sheet row {excel_row})")
    return later[0], (f"{ONSET_NOTE} {onset} is listed as damaged ({listed}): using frame "
                      f"{later[0]}, the next usable one (sheet row {excel_row})")


def _outside_cells(tree: FrameTree, row: SheetRow, subject: str, clip: str, emotion: str,
                   frames: dict[str, int]) -> list[str]:
    """'<cell> <value> -> <where it leads>' for each path of the row that leaves the frame folder."""
    folder = tree.clip_dir(subject, clip, emotion)
    checks = [("Subject", cell_text(row.get("subject")), tree.base / subject),
              ("Filename", clip, folder)]
    if emotion:
        checks.insert(1, ("emotion", emotion, tree.base / emotion))
    checks += [(cell, str(frame), tree.path(subject, clip, frame, emotion)) for cell, frame in frames.items()]
    for cell, value, path in checks:
        real = tree.outside(path)
        if real is not None:
            return [f"row {row.excel_row}, {cell} {value!r} -> {real}"]
    return []


def _keyed(row: SheetRow, spec: SheetSpec | None) -> SheetRow:
    """The row with its cells under the reader's keys (a spec maps the set's own headers)."""
    if spec is None or not spec.columns_as:
        return row
    cells = dict(row.cells)
    for key, headers in spec.key_columns().items():
        cells[key] = next((row.cells[h] for h in headers if h in row.cells), None)
    return SheetRow(cells=cells, excel_row=row.excel_row)


def _parse_aus(spec: SheetSpec | None, cell: object) -> ParsedAUs:
    if spec is not None and not spec.aus_coded:
        return ParsedAUs(aus=frozenset())
    return (spec.parse_aus if spec is not None and spec.parse_aus else parse_au_string)(cell)


def _distinct_clip_names(parsed: list[dict]) -> None:
    """Rows sharing (subject, clip folder) get clip ids '<clip>-<onset>' (and '-2', '-3' when the
    onset repeats too), so several expressions coded in one video stay apart."""
    counts = Counter((p["subject"], p["clip"]) for p in parsed)
    used: Counter = Counter()
    for p in parsed:
        if counts[(p["subject"], p["clip"])] > 1:
            name = f"{p['clip']}-{p['onset']}"
            used[(p["subject"], name)] += 1
            if used[(p["subject"], name)] > 1:
                name += f"-{used[(p['subject'], name)]}"
            p["notes"].append(f"one of {counts[(p['subject'], p['clip'])]} expressions coded in "
                              f"{p['subject']}/{p['clip']}: clip id {name}")
            p["name"] = name


def rows_to_samples(rows: list[SheetRow], *, sheet_name: str, dataset: str,
                    subject_id: Callable[[object], str], tree: FrameTree,
                    spec: SheetSpec | None = None, into: SheetReading | None = None
                    ) -> tuple[list[Sample], list[tuple[str, Path]], list[str]]:
    """Turn coding-sheet rows into Samples.

    Returns the samples, the (sample id, path) of every onset/apex frame that is missing, and a
    line for every row refused because a path it names leads outside the frame folder. Rows
    without a Filename are skipped with a warning; every other row gives a Sample, an entry in
    one of the two lists, a counted skip (``spec.lenient_rows``) or an error naming the row.
    ``into``: a SheetReading to fill (its skipped rows too).
    """
    reading = into or SheetReading("", Path(sheet_name), "", len(rows), [])
    lenient = spec is not None and spec.lenient_rows
    parsed: list[dict] = []
    seen: dict[tuple[str, str], int] = {}
    for raw in rows:
        row = _keyed(raw, spec)
        where = f"{sheet_name} row {row.excel_row}"
        name = cell_text(row.get("filename"))
        if name == "":
            log.warning("%s: no Filename (Subject %r); row skipped", where, cell_text(row.get("subject")))
            reading.skipped.append((row.excel_row, "no Filename"))
            continue
        clip = spec.clip_folder(name) if spec is not None and spec.clip_folder else name
        emotion_text = cell_text(row.get("estimatedemotion"))
        emotion_dir = emotion_text if "{emotion}" in tree.layout.clip_dirs else ""
        try:
            try:
                subject = subject_id(row.get("subject"))
            except ValueError as err:
                raise RowProblem(f"{where}: {err}") from None
            where = f"{where} ({subject}/{clip})"
            onset, apex, offset, notes = resolve_frames(row, where, spec)
            outside = _outside_cells(tree, row, subject, clip, emotion_dir,
                                     {"OnsetFrame": onset, "ApexFrame": apex})
            if outside:
                reading.refused += [f"{sheet_name} {line}" for line in outside]
                continue
            onset, onset_note = place_onset(tree, subject, clip, onset, apex, row.excel_row, emotion_dir)
        except RowProblem as err:
            if not lenient:
                raise ValueError(str(err)) from None
            log.warning("%s; row left out", err)
            reading.skipped.append((row.excel_row, str(err)))
            continue
        if onset_note:
            log.warning("%s: %s", where, onset_note)
            notes.append(onset_note)
        apex, apex_note = place_apex(tree, subject, clip, onset, apex, offset, row.excel_row, emotion_dir)
        if apex_note:
            log.warning("%s: %s", where, apex_note)
            notes.append(apex_note)
        aus = _parse_aus(spec, row.get("actionunits"))
        notes += [f"AU cell {aus.raw!r}: {n}" for n in aus.notes]
        key = (subject, clip)
        if key in seen and not (spec is not None and spec.distinct_ids):
            note = f"duplicate of sheet row {seen[key]} for {subject}/{clip}; both kept"
            log.warning("%s: %s", where, note)
            notes.append(note)
        seen.setdefault(key, row.excel_row)
        parsed.append(dict(subject=subject, clip=clip, name=clip, onset=onset, apex=apex, aus=aus,
                           emotion=emotion_text.lower(), emotion_dir=emotion_dir, notes=notes))
    if spec is not None and spec.distinct_ids:
        _distinct_clip_names(parsed)
    for p in parsed:
        onset_path = tree.path(p["subject"], p["clip"], p["onset"], p["emotion_dir"])
        apex_path = tree.path(p["subject"], p["clip"], p["apex"], p["emotion_dir"])
        for path in dict.fromkeys((onset_path, apex_path)):
            if not path.is_file():
                reading.missing.append((f"{p['subject']}/{p['name']}", path))
        reading.samples.append(Sample(
            dataset=dataset, subject=p["subject"], clip=p["name"], onset_frame=p["onset"],
            apex_frame=p["apex"], onset_path=onset_path, apex_path=apex_path, aus=p["aus"].aus,
            emotion=p["emotion"], emotion3=emotion3(p["emotion"]), au_string=p["aus"].raw,
            notes=tuple(p["notes"]), sides=p["aus"].sides))
    return reading.samples, reading.missing, reading.refused
