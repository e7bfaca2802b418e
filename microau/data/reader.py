"""The one sheet reader: a data set's :class:`SheetSpec` (sheet, columns, layouts, subject ids,
frame paths) and its root in, Samples out. ``casme2.py`` and ``samm.py`` hold the specs."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..aus import emotion3
from .au_strings import cell_text, parse_au_string
from .sheets import SheetRow, frame_number, read_coding_table
from .types import Sample

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FrameLayout:
    """Where a layout keeps its frames: ``<root>/<folder>/<subject>/<clip>/<pattern>``."""

    name: str
    folder: str  # under the root; '' is the root itself
    pattern: str  # a frame's file name, with the fields {frame} and {subject}

    def frame_dir(self, root: Path) -> Path:
        return root / self.folder if self.folder else root

    def path(self, root: Path, subject: str, clip: str, frame: int) -> Path:
        return self.frame_dir(root) / subject / clip / self.pattern.format(subject=subject, frame=frame)

    def frame_of(self, name: str, subject: str) -> int | None:
        """The frame number a file name of this layout carries; None for other files."""
        regex = "".join(
            r"(\d+)" if part.startswith("{frame") else re.escape(subject) if part == "{subject}"
            else re.escape(part)
            for part in re.split(r"(\{[^}]*\})", self.pattern) if part)
        m = re.fullmatch(regex, name)
        return int(m.group(1)) if m else None


@dataclass(frozen=True)
class SheetSpec:
    """How one data set is distributed; run by :func:`read_samples`."""

    what: str  # name in messages: 'CASME II'
    columns: tuple[str, ...]  # the sheet's columns as the distribution spells them
    required: tuple[str, ...]  # normalised names of the columns the reader needs
    layouts: tuple[FrameLayout, ...]  # 'auto' picks the first whose folder exists
    find_sheet: Callable[[Path], Path]
    subject_id: Callable[[object], str]
    root_holds: str  # what the root folder holds, for messages
    example: tuple[str, str, int]  # (subject, clip, frame) shown in layout help
    layout_note: str = ""  # appended to the layout help

    def layout(self, name: str) -> FrameLayout:
        return next(lay for lay in self.layouts if lay.name == name)

    def layout_help(self, name: str | None = None) -> str:
        sub, clip, frame = self.example
        parts = [f"'{lay.name}': {Path('<root>', lay.folder, sub, clip)}/"
                 f"{lay.pattern.format(subject=sub, frame=frame)}"
                 for lay in self.layouts if name in (None, lay.name)]
        return "; ".join(parts) + self.layout_note

    def frame_path(self, root: Path, layout: str, subject: str, clip: str, frame: int) -> Path:
        return self.layout(layout).path(Path(root), subject, clip, frame)

    def detect_layout(self, root: Path, layout: str = "auto") -> str:
        names = [lay.name for lay in self.layouts]
        if layout not in ("auto", *names):
            choices = ", ".join(f"'{n}'" for n in ["auto", *names][:-1]) + f" or '{names[-1]}'"
            raise ValueError(f"{self.what}: unknown layout {layout!r}; choose {choices}")
        if layout == "auto":
            for lay in self.layouts:
                if lay.frame_dir(root).is_dir():
                    log.debug("%s: layout '%s' (found %s/)", self.what, lay.name, lay.folder)
                    return lay.name
            expected = " or ".join(f"'{lay.frame_dir(root)}'" for lay in self.layouts)
            raise FileNotFoundError(
                f"{self.what}: no frame folder in '{root}': expected {expected}. "
                f"Layouts: {self.layout_help()}.")
        folder = self.layout(layout).frame_dir(root)
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{self.what}: layout '{layout}' needs the folder '{folder}', which does not exist. "
                f"Expected {self.layout_help(layout)}.")
        return layout


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


def read_samples(spec: SheetSpec, root: str | Path, layout: str = "auto",
                 dataset: str = "") -> list[Sample]:
    """Read ``spec``'s coding sheet under ``root`` and check the frames each row needs; Samples
    sorted by (subject, clip), carrying the name ``dataset``."""
    root = check_root(root, spec.what, spec.root_holds)
    sheet = spec.find_sheet(root)
    layout = spec.detect_layout(root, layout)
    rows = read_coding_table(sheet, spec.required, f"{spec.what} sheet")
    frame_path = spec.layout(layout).path
    samples, missing = rows_to_samples(
        rows, sheet_name=sheet.name, dataset=dataset, subject_id=spec.subject_id,
        frame_path=lambda s, c, f: frame_path(root, s, c, f))
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


def resolve_frames(row: SheetRow, where: str) -> tuple[int, int, list[str]]:
    """(onset, apex, notes) for a sheet row. A non-numeric or -1 apex falls back to the midpoint
    of onset and offset (rounded down), with a note and a log line; the row is kept."""
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
        note = (f"apex frame {what}: using the midpoint of onset {onset} and offset {offset} "
                f"= {apex}")
        log.warning("%s: %s", where, note)
        notes.append(note)
    elif offset is not None and not onset <= apex <= offset:
        note = f"apex frame {apex} lies outside onset..offset {onset}..{offset}; kept as coded"
        log.warning("%s: %s", where, note)
        notes.append(note)
    return onset, apex, notes


def rows_to_samples(
    rows: list[SheetRow],
    *,
    sheet_name: str,
    dataset: str,
    subject_id: Callable[[object], str],
    frame_path: Callable[[str, str, int], Path],
) -> tuple[list[Sample], list[tuple[str, Path]]]:
    """Turn coding-sheet rows into Samples.

    Returns the samples and the (sample id, path) of every onset/apex frame that is missing.
    Rows without a Filename are skipped with a warning; every other row gives a Sample or an
    error naming the row.
    """
    samples: list[Sample] = []
    missing: list[tuple[str, Path]] = []
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
        onset, apex, notes = resolve_frames(row, where)
        parsed = parse_au_string(row.get("actionunits"))
        notes += [f"AU cell {parsed.raw!r}: {n}" for n in parsed.notes]
        key = (subject, clip)
        if key in seen:
            note = f"duplicate of sheet row {seen[key]} for {subject}/{clip}; both kept"
            log.warning("%s: %s", where, note)
            notes.append(note)
        seen.setdefault(key, row.excel_row)
        onset_path = frame_path(subject, clip, onset)
        apex_path = frame_path(subject, clip, apex)
        for p in dict.fromkeys((onset_path, apex_path)):
            if not p.is_file():
                missing.append((f"{subject}/{clip}", p))
        emotion = cell_text(row.get("estimatedemotion")).lower()
        samples.append(Sample(
            dataset=dataset, subject=subject, clip=clip, onset_frame=onset, apex_frame=apex,
            onset_path=onset_path, apex_path=apex_path, aus=parsed.aus, emotion=emotion,
            emotion3=emotion3(emotion), au_string=parsed.raw, notes=tuple(notes),
        ))
    return samples, missing
