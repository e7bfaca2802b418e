"""How a data set is distributed, as data: its sheet finder, columns, frame layouts (with layout
detection), subject id rule and frame paths. The reader (:mod:`.reader`) runs a spec."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # pragma: no cover
    from .au_strings import ParsedAUs

log = logging.getLogger(__name__)


ANY_IMAGE = ""  # a FrameLayout pattern: any image file whose name ends with the frame number
_ANY_IMAGE_RE = re.compile(r"(?:.*\D)?(\d+)\.(?:jpe?g|png|bmp|tiff?)", re.IGNORECASE)


@dataclass(frozen=True)
class FrameLayout:
    """Where a layout keeps its frames: ``<root>/<folder>/<clip_dirs>/<pattern>``, ``clip_dirs``
    being ``{subject}/{clip}`` unless a data set nests its clips otherwise."""

    name: str
    folder: str  # under the root; '' is the root itself
    pattern: str  # a frame's file name, with the fields {frame}, {subject}, {clip}; ANY_IMAGE: any
    clip_dirs: str = "{subject}/{clip}"  # folders from the frame folder to a clip's frames ({emotion} too)

    def frame_dir(self, root: Path) -> Path:
        return root / self.folder if self.folder else root

    def clip_parts(self, subject: str, clip: str, emotion: str = "") -> list[str]:
        """The folder names from the frame folder down to a clip's frames."""
        return [part.format(subject=subject, clip=clip, emotion=emotion) for part in self.clip_dirs.split("/")]

    def file_name(self, subject: str, clip: str, frame: int) -> str:
        """A frame's file name (for ANY_IMAGE: the name ``<frame>.jpg`` a writer would use)."""
        return self.pattern.format(subject=subject, clip=clip, frame=frame) if self.pattern else f"{frame}.jpg"

    def path(self, root: Path, subject: str, clip: str, frame: int, emotion: str = "") -> Path:
        return self.frame_dir(root).joinpath(*self.clip_parts(subject, clip, emotion),
                                             self.file_name(subject, clip, frame))

    def frame_of(self, name: str, subject: str, clip: str = "") -> int | None:
        """The frame number a file name of this layout carries; None for other files."""
        if not self.pattern:
            m = _ANY_IMAGE_RE.fullmatch(name)
            return int(m.group(1)) if m else None
        fields = {"{subject}": subject, "{clip}": clip}
        regex = "".join(
            r"(\d+)" if part.startswith("{frame") else re.escape(fields[part]) if part in fields
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
    # --- what the sets beyond CASME II and SAMM need (the defaults are those two sets' rules)
    # reader key (onsetframe, apexframe, offsetframe, actionunits, estimatedemotion, subject,
    # filename) -> the normalised sheet headers that may hold it, the first present one is read
    columns_as: tuple[tuple[str, tuple[str, ...]], ...] = ()
    header_starts: tuple[str, ...] = ("subject",)  # the header row's first cell, normalised
    sheet: str | None = None  # the workbook sheet holding the table (None: the first with a header)
    parse_aus: Callable[[object], "ParsedAUs"] | None = None  # None: au_strings.parse_au_string
    aus_coded: bool = True  # False: the set codes emotions only (SMIC)
    apex_coded: bool = True  # False: no apex column; the apex is the midpoint of onset and offset
    lenient_rows: bool = False  # a row that cannot be read is left out, counted and logged
    distinct_ids: bool = False  # rows sharing (subject, Filename) get distinct clip ids
    zero_offset_uncoded: bool = False  # an offset of 0 means 'not coded' (noted)
    folder_case: bool = False  # a folder named in another case than the sheet's is found
    clip_folder: Callable[[str], str] | None = None  # Filename cell -> clip folder name
    damaged_frames: Callable[[Path], "dict"] | None = None  # root -> the published damaged-frame list
    note: str = ""  # what a user of this set should know (shown by doctor --data and the book)

    def key_columns(self) -> dict[str, tuple[str, ...]]:
        """Reader key -> the sheet headers that may hold it (itself when not mapped)."""
        return dict(self.columns_as)

    def required_columns(self) -> tuple[tuple[str, ...] | str, ...]:
        """What :func:`microau.data.sheets.read_coding_table` must find: each entry a header, or a
        tuple of headers of which one must be present."""
        mapped = self.key_columns()
        return tuple(mapped.get(key, key) for key in self.required)

    def layout(self, name: str) -> FrameLayout:
        return next(lay for lay in self.layouts if lay.name == name)

    def layout_help(self, name: str | None = None) -> str:
        sub, clip, frame = self.example
        parts = [f"'{lay.name}': {lay.path(Path('<root>'), sub, clip, frame, '<emotion>')}"
                 + (" (any image file whose name ends with the frame number)" if not lay.pattern else "")
                 for lay in self.layouts if name in (None, lay.name)]
        return "; ".join(parts) + self.layout_note

    def frame_path(self, root: Path, layout: str, subject: str, clip: str, frame: int,
                   emotion: str = "") -> Path:
        return self.layout(layout).path(Path(root), subject, clip, frame, emotion)

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
