"""One entry point for every dataset: ``load_samples``; and the label statistics a user checks
before training: ``selected_au_counts`` (the paper's "more than 14 samples" rule) and
``summarize`` / ``format_summary`` (what ``microau data summary`` prints).

The readers live in :mod:`microau.data.casme2` and :mod:`microau.data.samm`; the sheet helpers they
share (header search, frame-number cells, the apex fallback) live here.
"""
from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from ..aus import DATASET_AUS, EMOTION3_CLASSES, emotion3
from .au_strings import cell_text, parse_au_string
from .types import Sample

log = logging.getLogger(__name__)

DATASETS: tuple[str, ...] = ("casme2", "samm", "phantom-casme2", "phantom-samm")
# the paper keeps AUs coded in "more than 14 samples" (Sec. IV-A)
PAPER_MIN_COUNT = 15


# ----------------------------------------------------------------------------- shared helpers
def norm_header(name: object) -> str:
    """'Onset Frame', 'OnsetFrame', ' onset_frame ' -> 'onsetframe'."""
    return re.sub(r"[^a-z0-9]", "", cell_text(name).lower())


@dataclass
class SheetRow:
    """One data row of a coding sheet: cells keyed by normalised header, plus where it came from."""

    cells: dict[str, object]
    excel_row: int  # 1-based row number as Excel shows it

    def get(self, key: str) -> object:
        return self.cells.get(key)


def read_coding_table(path: Path, required: Iterable[str], what: str) -> list[SheetRow]:
    """Read the coding table of ``path``: the first sheet holding a row whose first non-empty cell
    is 'Subject' (the header may sit below notes, as in SAMM). Returns the rows below it that are
    not completely blank. Raises ValueError naming the missing columns."""
    import pandas as pd  # imported here so `microau --help` stays fast

    required = tuple(required)
    try:
        sheets = pd.read_excel(path, sheet_name=None, header=None, dtype=object)
    except Exception as err:  # corrupt file, not an xlsx, ...
        raise ValueError(f"{what}: could not read '{path}' as an Excel workbook ({err})") from err
    problems = []
    for sheet_name, df in sheets.items():
        header_idx = start_col = None
        for i in range(len(df)):
            row = [cell_text(v) for v in df.iloc[i].tolist()]
            first = next((j for j, v in enumerate(row) if v != ""), None)
            if first is not None and row[first].strip().lower() == "subject":
                header_idx, start_col = i, first
                break
        if header_idx is None:
            problems.append(f"sheet '{sheet_name}': no row starting with 'Subject'")
            continue
        headers = [norm_header(v) for v in df.iloc[header_idx].tolist()]
        missing = [c for c in required if c not in headers]
        if missing:
            found = [cell_text(v) for v in df.iloc[header_idx].tolist() if cell_text(v)]
            problems.append(
                f"sheet '{sheet_name}' (header on row {header_idx + 1}): missing column(s) "
                f"{missing}; found {found}"
            )
            continue
        if header_idx > 0:
            log.info("%s: header of '%s' found on row %d of sheet '%s'", what, path.name,
                     header_idx + 1, sheet_name)
        rows = []
        for i in range(header_idx + 1, len(df)):
            values = df.iloc[i].tolist()
            cells: dict[str, object] = {}
            for j, key in enumerate(headers):
                if j < start_col or not key or key.startswith("unnamed") or key in cells:
                    continue
                cells[key] = values[j]
            if all(cell_text(v) == "" for v in values):
                continue  # blank row (trailing rows, spacer rows)
            rows.append(SheetRow(cells=cells, excel_row=i + 1))
        return rows
    raise ValueError(
        f"{what}: no coding table in '{path}' ({'; '.join(problems)}). Expected a header row "
        f"with the columns {list(required)} (spelling and spaces are not significant)."
    )


_FRAME_TEXT = re.compile(r"^\s*(\d+)(?:\.0+)?\s*$")


def frame_number(cell: object) -> int | None:
    """A frame number cell as int; None for non-numeric ('/', '', NaN) or negative (-1) cells."""
    text = cell_text(cell)
    m = _FRAME_TEXT.match(text)
    if not m:
        return None
    return int(m.group(1))


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


def missing_frames_error(missing: list[tuple[str, Path]], what: str, layout_help: str
                         ) -> FileNotFoundError:
    shown = "\n".join(f"  {sid}: {path}" for sid, path in missing[:10])
    more = f"\n  ... and {len(missing) - 10} more" if len(missing) > 10 else ""
    return FileNotFoundError(
        f"{what}: {len(missing)} onset/apex frame(s) missing, expected at:\n{shown}{more}\n"
        f"Expected layout: {layout_help}. Only the onset and apex frames of each clip are needed."
    )


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


def rows_to_samples(
    rows: list[SheetRow],
    *,
    sheet_name: str,
    dataset: str,
    subject_id: Callable[[object], str],
    frame_path: Callable[[str, str, int], Path],
) -> tuple[list[Sample], list[tuple[str, Path]]]:
    """Turn coding-sheet rows into Samples (shared by the CASME II and SAMM readers).

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


# ----------------------------------------------------------------------------- entry point
def base_dataset(dataset: str) -> str:
    """'phantom-samm' -> 'samm'; checks the name."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {list(DATASETS)}")
    return dataset.removeprefix("phantom-")


def read_dataset(base: str, root: str | Path, layout: str = "auto", dataset: str | None = None) -> list[Sample]:
    """Read the coding sheet and frame tree of a CASME II (``base='casme2'``) or SAMM copy into
    Samples sorted by (subject, clip); ``dataset`` is the name the samples carry."""
    if base == "casme2":
        from .casme2 import load_casme2 as reader
    elif base == "samm":
        from .samm import load_samm as reader
    else:
        raise ValueError(f"unknown data set layout {base!r}; choose 'casme2' or 'samm'")
    return sort_samples(reader(root, layout=layout, dataset=dataset or base))


def load_samples(dataset: str, root: str | Path, layout: str = "auto") -> list[Sample]:
    """Deprecated alias of ``microau.data.registry.load_samples``."""
    return read_dataset(base_dataset(dataset), root, layout=layout, dataset=dataset)


# ----------------------------------------------------------------------------- statistics
def _dataset_of(samples: list[Sample]) -> str | None:
    names = {s.dataset for s in samples}
    return names.pop() if len(names) == 1 else None


@dataclass(frozen=True)
class AUSelection:
    """The "more than 14 samples" rule applied to a set of samples.

    ``counts``: clips coding each AU (every AU seen, ascending AU number).
    ``passing``: AUs with ``count >= min_count``. ``paper``: the paper's choice for the dataset
    (``microau.aus.DATASET_AUS``), None when the dataset is unknown.
    """

    counts: dict[int, int]
    min_count: int
    passing: tuple[int, ...]
    paper: tuple[int, ...] | None = None
    dataset: str | None = None

    @property
    def passing_not_in_paper(self) -> tuple[int, ...]:
        return tuple(a for a in self.passing if self.paper is not None and a not in self.paper)

    @property
    def paper_not_passing(self) -> tuple[int, ...]:
        return tuple(a for a in (self.paper or ()) if a not in self.passing)


def selected_au_counts(samples: Iterable[Sample], min_count: int = PAPER_MIN_COUNT,
                       dataset: str | None = None) -> AUSelection:
    """Count each AU over ``samples`` and apply the paper's rule (``count >= min_count``; the paper
    says "more than 14", i.e. 15). The paper's own selection is attached for comparison."""
    samples = list(samples)
    counter: Counter[int] = Counter()
    for s in samples:
        counter.update(s.aus)
    counts = {au: counter[au] for au in sorted(counter)}
    passing = tuple(au for au, n in counts.items() if n >= min_count)
    dataset = dataset or _dataset_of(samples)
    paper = None
    if dataset is not None and dataset in DATASETS:
        paper = DATASET_AUS.get(base_dataset(dataset))
    return AUSelection(counts=counts, min_count=min_count, passing=passing, paper=paper,
                       dataset=dataset)


@dataclass(frozen=True)
class Summary:
    dataset: str | None
    n_clips: int
    n_subjects: int
    clips_per_subject: dict[str, int]
    au_counts: dict[int, int]
    selection: AUSelection
    emotion_counts: dict[str, int]
    emotion3_counts: dict[str, int]  # key 'excluded' for labels outside the 3-class map
    n_with_notes: int
    notes: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (sample id, note)

    def as_dict(self) -> dict:
        return asdict(self)


def summarize(samples: Iterable[Sample], min_count: int = PAPER_MIN_COUNT) -> Summary:
    samples = list(samples)
    selection = selected_au_counts(samples, min_count=min_count)
    per_subject = Counter(s.subject for s in samples)
    emotions = Counter(s.emotion for s in samples)
    emo3 = Counter(s.emotion3 if s.emotion3 is not None else "excluded" for s in samples)
    notes = tuple((s.id, n) for s in samples for n in s.notes)
    return Summary(
        dataset=_dataset_of(samples),
        n_clips=len(samples),
        n_subjects=len(per_subject),
        clips_per_subject={k: per_subject[k] for k in sorted(per_subject)},
        au_counts=selection.counts,
        selection=selection,
        emotion_counts=dict(sorted(emotions.items(), key=lambda kv: (-kv[1], kv[0]))),
        emotion3_counts={k: emo3[k] for k in (*EMOTION3_CLASSES, "excluded") if k in emo3},
        n_with_notes=sum(1 for s in samples if s.notes),
        notes=notes,
    )


def _aus_text(aus: Iterable[int]) -> str:
    aus = list(aus)
    return ", ".join(f"AU{a}" for a in aus) if aus else "none"


def format_summary(summary: Summary, show_notes: bool = False) -> str:
    """Plain-text report of a Summary (what ``microau data summary`` prints)."""
    sel = summary.selection
    lines = [
        f"dataset: {summary.dataset or 'mixed'}",
        f"clips: {summary.n_clips}",
        f"subjects: {summary.n_subjects}",
        "",
        f"AU counts (clips coding the AU; '*' = more than {sel.min_count - 1} clips, the paper's "
        "rule; 'P' = in the paper's selection):",
    ]
    for au, n in summary.au_counts.items():
        mark = ("*" if au in sel.passing else " ") + (" P" if sel.paper and au in sel.paper else "")
        lines.append(f"  AU{au:<4d} {n:5d}  {mark}".rstrip())
    lines.append(f"AUs with more than {sel.min_count - 1} clips: {_aus_text(sel.passing)}")
    if sel.paper is not None:
        base = base_dataset(sel.dataset) if sel.dataset else "?"
        lines.append(f"paper's selection (microau.aus.DATASET_AUS['{base}']): "
                     f"{_aus_text(sel.paper)}")
        if sel.passing_not_in_paper:
            lines.append(f"  pass the rule but not selected by the paper: "
                         f"{_aus_text(sel.passing_not_in_paper)}")
        if sel.paper_not_passing:
            lines.append(f"  selected by the paper but below the rule here: "
                         f"{_aus_text(sel.paper_not_passing)}")
    lines += ["", "emotions:"]
    for emo, n in summary.emotion_counts.items():
        lines.append(f"  {emo or '(empty)':<14s} {n:5d}")
    lines += ["3-class emotions (MER):"]
    for emo, n in summary.emotion3_counts.items():
        label = "(outside the 3-class map)" if emo == "excluded" else emo
        lines.append(f"  {label:<26s} {n:5d}")
    lines += ["", f"clips with notes: {summary.n_with_notes} ({len(summary.notes)} notes)"]
    if show_notes:
        for sid, note in summary.notes:
            lines.append(f"  {sid}: {note}")
    elif summary.notes:
        lines.append("  (use --show-notes to list them)")
    return "\n".join(lines)
