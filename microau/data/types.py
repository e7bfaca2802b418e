"""The sample record every loader returns (CASME II, SAMM, phantom)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Sample:
    """One micro-expression clip as coded in a dataset's sheet.

    ``aus`` holds every AU the sheet codes for the clip (laterality and intensity stripped);
    the model later keeps the dataset's selected AUs. ``notes`` records anything the AU
    parser found ambiguous, so it can be reported instead of silently resolved.
    """

    dataset: str  # a registry name: 'casme2', 'samm', 'casme3', ..., 'phantom-casme2', ...
    subject: str  # 'sub01' (CASME II) or '006' (SAMM)
    clip: str  # 'EP02_01f' (CASME II) or '006_1_2' (SAMM)
    onset_frame: int
    apex_frame: int
    onset_path: Path
    apex_path: Path
    aus: frozenset[int]
    emotion: str  # as coded, lower case
    emotion3: str | None  # positive / negative / surprise, None if outside the 3-class map
    au_string: str = ""  # the raw AU cell
    notes: tuple[str, ...] = field(default_factory=tuple)
    # the coded AUs with their side or position prefix, as coded ('L12', 'R14', 'T1'); ``aus``
    # (and every label) drops it, so AUs harmonise across data sets while laterality is kept here
    sides: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.subject}/{self.clip}"

    def labels(self, aus: tuple[int, ...]) -> list[int]:
        """0/1 label vector for the given AU order."""
        return [int(a in self.aus) for a in aus]
