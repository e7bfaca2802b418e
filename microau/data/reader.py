"""The one sheet reader: a data set's spec (:mod:`.spec`; ``casme2.py`` and ``samm.py`` hold
them) and its root in, Samples out.

What a row may not do: name a path (Filename, subject folder, frame file, links included) that
resolves outside the layout's frame folder; the load then stops with an error naming each such
row and cell. A row whose apex frame lies outside onset..offset or has no image gets the nearest
existing frame inside the clip instead, with a note; a missing onset frame stays an error."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from ..aus import emotion3
from .au_strings import cell_text, parse_au_string
from .sheets import SheetRow, frame_number, read_coding_table
from .spec import FrameLayout, SheetSpec
from .types import Sample

log = logging.getLogger(__name__)

APEX_NOTE = "apex frame"  # how every note on the apex frame begins
KEPT = "kept as coded"  # ... and what the one that changes nothing says


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


class FrameTree:
    """A layout's frame folder under a root; every path a sheet cell names must resolve in it."""

    def __init__(self, root: Path, layout: FrameLayout):
        self.root, self.layout = root, layout
        self.base = layout.frame_dir(root)
        self.real_base = self.base.resolve()

    def path(self, subject: str, clip: str, frame: int) -> Path:
        return self.layout.path(self.root, subject, clip, frame)

    def outside(self, path: Path) -> Path | None:
        """Where ``path`` really leads when that is outside the frame folder; None when inside."""
        real = path.resolve()
        return None if real == self.real_base or self.real_base in real.parents else real

    def frames(self, subject: str, clip: str) -> dict[int, Path]:
        """The frames on disk in a clip's folder (empty when the folder does not exist)."""
        folder = self.base / subject / clip
        if not folder.is_dir():
            return {}
        found = {}
        for p in folder.iterdir():
            frame = self.layout.frame_of(p.name, subject)
            if frame is not None and p.is_file() and self.outside(p) is None:
                found[frame] = p
        return found


def read_samples(spec: SheetSpec, root: str | Path, layout: str = "auto",
                 dataset: str = "") -> list[Sample]:
    """Read ``spec``'s coding sheet under ``root`` and check the frames each row needs; Samples
    sorted by (subject, clip), carrying the name ``dataset``."""
    root = check_root(root, spec.what, spec.root_holds)
    sheet = spec.find_sheet(root)
    layout = spec.detect_layout(root, layout)
    rows = read_coding_table(sheet, spec.required, f"{spec.what} sheet")
    tree = FrameTree(root, spec.layout(layout))
    samples, missing, refused = rows_to_samples(rows, sheet_name=sheet.name, dataset=dataset,
                                                subject_id=spec.subject_id, tree=tree)
    if refused:
        raise outside_root_error(refused, spec.what, tree)
    if missing:
        raise missing_frames_error(missing, spec.what, spec.layout_help(layout)
                                   + _flat_hint(spec, root, layout))
    log.info("%s: %d clips from %s (layout '%s')", spec.what, len(samples), sheet.name, layout)
    return sort_samples(samples)


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


def resolve_frames(row: SheetRow, where: str) -> tuple[int, int, int | None, list[str]]:
    """(onset, apex, offset, notes) as coded in a sheet row. A non-numeric or -1 apex falls back
    to the midpoint of onset and offset (rounded down), with a note and a log line."""
    onset_cell, apex_cell, offset_cell = (
        row.get("onsetframe"), row.get("apexframe"), row.get("offsetframe"))
    onset = frame_number(onset_cell)
    if onset is None:
        raise ValueError(
            f"{where}: onset frame {cell_text(onset_cell)!r} is not a frame number; "
            "fix the sheet cell (the onset frame is needed for the optical flow)"
        )
    apex = frame_number(apex_cell)
    offset = frame_number(offset_cell)
    notes: list[str] = []
    if apex is None:
        if offset is None or offset < onset:
            raise ValueError(
                f"{where}: apex frame {cell_text(apex_cell)!r} is not a frame number and the "
                f"offset frame {cell_text(offset_cell)!r} cannot stand in for it; fix the sheet"
            )
        apex = (onset + offset) // 2
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
               offset: int | None, excel_row: int) -> tuple[int, str | None]:
    """The apex frame to use, and a note when it is not ``apex`` as coded.

    Coded inside onset..offset with an image: used as coded. Otherwise the frame on disk nearest
    to the coded apex in onset+1..offset (the later frames of the folder when the offset is not
    coded; the earlier frame on a tie). With no such frame the coded apex stays: noted when it
    lies outside the range; reported missing (an error) when it has no image.
    """
    inside = offset is None or onset <= apex <= offset
    if inside and tree.path(subject, clip, apex).is_file():
        return apex, None
    frames = tree.frames(subject, clip)
    last = offset if offset is not None else max(frames, default=onset)
    candidates = [f for f in frames if onset < f <= last]
    span = f"onset..offset {onset}..{offset}"
    why = f"lies outside {span}" if not inside else "has no image in the clip's folder"
    if not candidates:
        if inside:
            return apex, None  # reported missing by the caller
        return apex, (f"{APEX_NOTE} {apex} lies outside {span}; {KEPT} (no other frame "
                      f"of the clip inside it) (sheet row {excel_row})")
    used = min(candidates, key=lambda f: (abs(f - apex), f))
    return used, (f"{APEX_NOTE} {apex} {why}: using frame {used}, the existing frame nearest to "
                  f"it inside the clip (sheet row {excel_row})")


def _outside_cells(tree: FrameTree, row: SheetRow, subject: str, clip: str,
                   frames: dict[str, int]) -> list[str]:
    """'<cell> <value> -> <where it leads>' for each path of the row that leaves the frame folder."""
    checks = [("Subject", cell_text(row.get("subject")), tree.base / subject),
              ("Filename", clip, tree.base / subject / clip)]
    checks += [(cell, str(frame), tree.path(subject, clip, frame)) for cell, frame in frames.items()]
    for cell, value, path in checks:
        real = tree.outside(path)
        if real is not None:
            return [f"row {row.excel_row}, {cell} {value!r} -> {real}"]
    return []


def rows_to_samples(rows: list[SheetRow], *, sheet_name: str, dataset: str,
                    subject_id: Callable[[object], str], tree: FrameTree
                    ) -> tuple[list[Sample], list[tuple[str, Path]], list[str]]:
    """Turn coding-sheet rows into Samples.

    Returns the samples, the (sample id, path) of every onset/apex frame that is missing, and a
    line for every row refused because a path it names leads outside the frame folder. Rows
    without a Filename are skipped with a warning; every other row gives a Sample, an entry in
    one of the two lists, or an error naming the row.
    """
    samples: list[Sample] = []
    missing: list[tuple[str, Path]] = []
    refused: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for row in rows:
        where = f"{sheet_name} row {row.excel_row}"
        clip = cell_text(row.get("filename"))
        if clip == "":
            log.warning("%s: no Filename (Subject %r); row skipped", where,
                        cell_text(row.get("subject")))
            continue
        try:
            subject = subject_id(row.get("subject"))
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None
        where = f"{where} ({subject}/{clip})"
        onset, apex, offset, notes = resolve_frames(row, where)
        outside = _outside_cells(tree, row, subject, clip, {"OnsetFrame": onset, "ApexFrame": apex})
        if outside:
            refused += [f"{sheet_name} {line}" for line in outside]
            continue
        apex, apex_note = place_apex(tree, subject, clip, onset, apex, offset, row.excel_row)
        if apex_note:
            log.warning("%s: %s", where, apex_note)
            notes.append(apex_note)
        parsed = parse_au_string(row.get("actionunits"))
        notes += [f"AU cell {parsed.raw!r}: {n}" for n in parsed.notes]
        key = (subject, clip)
        if key in seen:
            note = f"duplicate of sheet row {seen[key]} for {subject}/{clip}; both kept"
            log.warning("%s: %s", where, note)
            notes.append(note)
        seen.setdefault(key, row.excel_row)
        onset_path = tree.path(subject, clip, onset)
        apex_path = tree.path(subject, clip, apex)
        for p in dict.fromkeys((onset_path, apex_path)):
            if not p.is_file():
                missing.append((f"{subject}/{clip}", p))
        emotion = cell_text(row.get("estimatedemotion")).lower()
        samples.append(Sample(
            dataset=dataset, subject=subject, clip=clip, onset_frame=onset, apex_frame=apex,
            onset_path=onset_path, apex_path=apex_path, aus=parsed.aus, emotion=emotion,
            emotion3=emotion3(emotion), au_string=parsed.raw, notes=tuple(notes),
        ))
    return samples, missing, refused
