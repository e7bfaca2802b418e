"""How a data set is distributed, as data: its sheet finder, columns, frame layouts (with layout
detection), subject id rule and frame paths. The reader (:mod:`.reader`) runs a spec."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

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
    """How one data set is distributed; run by :func:`microau.data.reader.read_samples`."""

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
