"""Label statistics a user checks before training: ``selected_au_counts`` (the paper's "more than
14 samples" rule) and ``summarize`` / ``format_summary`` (what ``microau data summary`` prints)."""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Iterable

from ..aus import DATASET_AUS, EMOTION3_CLASSES
from .reader import is_apex_fallback
from .registry import DATASETS, base_dataset
from .types import Sample

# the paper keeps AUs coded in "more than 14 samples" (Sec. IV-A)
PAPER_MIN_COUNT = 15


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
    # the notes of clips whose apex frame is not the coded one (a subset of ``notes``)
    apex_fallbacks: tuple[tuple[str, str], ...] = field(default_factory=tuple)

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
        apex_fallbacks=tuple((sid, n) for sid, n in notes if is_apex_fallback(n)),
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
    lines += ["", f"apex frames not taken as coded: {len(summary.apex_fallbacks)}"]
    lines += [f"  {sid}: {note}" for sid, note in summary.apex_fallbacks]
    lines += [f"clips with notes: {summary.n_with_notes} ({len(summary.notes)} notes)"]
    if show_notes:
        for sid, note in summary.notes:
            lines.append(f"  {sid}: {note}")
    elif summary.notes:
        lines.append("  (use --show-notes to list them)")
    return "\n".join(lines)
