"""A layout's frame folder under a data root, as the reader sees it: where a clip's frames are,
which frames exist, which ones a data set's published list calls damaged, and whether a path a
sheet cell names stays inside the folder (links followed)."""
from __future__ import annotations

from pathlib import Path

from .spec import FrameLayout


class FrameTree:
    """A layout's frame folder under a root; every path a sheet cell names must resolve in it.

    ``folder_case``: a folder the sheet names in another case than the disk's (``J`` for ``j``)
    is found, when exactly one folder matches. ``damaged``: the published list of frames that
    cannot be used, ``{(subject folder, clip folder, frame): reason}`` with lower-case names.
    """

    def __init__(self, root: Path, layout: FrameLayout, folder_case: bool = False,
                 damaged: dict | None = None):
        self.root, self.layout = root, layout
        self.base = layout.frame_dir(root)
        self.real_base = self.base.resolve()
        self.folder_case = folder_case
        self.damaged = damaged or {}
        self._listing: dict[Path, dict[int, Path]] = {}

    def clip_dir(self, subject: str, clip: str, emotion: str = "") -> Path:
        """The folder of a clip's frames (the sheet's spelling when no folder matches)."""
        folder = self.base
        for part in self.layout.clip_parts(subject, clip, emotion):
            folder = self._child(folder, part)
        return folder

    def _child(self, folder: Path, name: str) -> Path:
        exact = folder / name
        if exact.is_dir() or not self.folder_case or not folder.is_dir():
            return exact
        matches = [p for p in folder.iterdir() if p.name.lower() == name.lower() and p.is_dir()]
        return matches[0] if len(matches) == 1 else exact

    def path(self, subject: str, clip: str, frame: int, emotion: str = "") -> Path:
        """Where a frame is (for a layout matching any image name: the file on disk, if any)."""
        folder = self.clip_dir(subject, clip, emotion)
        if not self.layout.pattern:
            found = self.frames_in(folder, subject, clip).get(frame)
            if found is not None:
                return found
        return folder / self.layout.file_name(subject, clip, frame)

    def outside(self, path: Path) -> Path | None:
        """Where ``path`` really leads when that is outside the frame folder; None when inside."""
        real = path.resolve()
        return None if real == self.real_base or self.real_base in real.parents else real

    def frames_in(self, folder: Path, subject: str, clip: str) -> dict[int, Path]:
        """The frames on disk in a clip's folder (empty when the folder does not exist)."""
        if folder in self._listing:
            return self._listing[folder]
        found: dict[int, Path] = {}
        if folder.is_dir():
            for p in sorted(folder.iterdir()):
                frame = self.layout.frame_of(p.name, subject, clip)
                if frame is not None and p.is_file() and self.outside(p) is None:
                    found.setdefault(frame, p)
        self._listing[folder] = found
        return found

    def frames(self, subject: str, clip: str, emotion: str = "") -> dict[int, Path]:
        """The usable frames of a clip: on disk, inside the folder, not listed as damaged."""
        folder = self.clip_dir(subject, clip, emotion)
        return {f: p for f, p in self.frames_in(folder, subject, clip).items()
                if self.listed(folder, f) is None}

    def listed(self, folder: Path, frame: int) -> str | None:
        """Why the published list calls a frame of ``folder`` damaged, or None."""
        if not self.damaged:
            return None
        rel = folder.relative_to(self.base).parts if self.base in folder.parents else folder.parts
        keys = [p.lower() for p in rel]
        for k in range(len(keys) - 1):  # the (subject, clip) pair sits somewhere in the path
            reason = self.damaged.get((keys[k], keys[k + 1], int(frame)))
            if reason:
                return reason
        return None
