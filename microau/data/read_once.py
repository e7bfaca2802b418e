"""A coding sheet read once per process.

A reproduction asks for the samples of a data set many times: every run's key is a digest of its
clips (``microau.train.datakey``), every notebook reads them back. :func:`read_samples_once`
reads the sheet and checks the frame tree the first time (``microau.data.reader.read_samples``,
which logs what it found), then gives the same samples while nothing they depend on changed:

* the sheet file: its path, modification time and size;
* the frame tree: inode, mode and modification time of every folder between the root and the
  frames, links not followed. Adding, removing or renaming a frame changes its folder's time;
  swapping a folder for a link or a copy changes its inode or mode. Either reads again, so a
  missing frame or a path leading outside the frame folder is reported as on a first read.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .spec import SheetSpec
    from .types import Sample

# (spec, root, sheet, its mtime and size, layout asked, name) -> (folder signature, samples)
_READ: dict[tuple, tuple[dict, list["Sample"]]] = {}


def tree_signature(root: Path, samples: list["Sample"]) -> dict[Path, tuple | None]:
    """(inode, mode, mtime) of every folder between ``root`` and the samples' frames (lstat)."""
    out: dict[Path, tuple | None] = {}
    for s in samples:
        for path in (Path(s.onset_path), Path(s.apex_path)):
            folder = path.parent
            while folder not in out and folder != root and root in folder.parents:
                try:
                    st = folder.lstat()
                    out[folder] = (st.st_ino, st.st_mode, st.st_mtime_ns)
                except OSError:
                    out[folder] = None
                folder = folder.parent
    return out


def read_samples_once(spec: "SheetSpec", root: str | Path, layout: str = "auto",
                      dataset: str = "") -> list["Sample"]:
    """``read_samples(spec, root, layout, dataset)``, from memory when the sheet and the frame
    tree are unchanged since this process read them (a new list each call)."""
    from .reader import read_samples

    root = Path(root).expanduser()
    try:
        sheet = spec.find_sheet(root)
        stat = sheet.stat()
        key = (spec.what, str(root.resolve()), str(sheet.resolve()), stat.st_mtime_ns, stat.st_size,
               layout, dataset)
    except Exception:  # no root, no sheet, ...: the reader says what is wrong
        return read_samples(spec, root, layout=layout, dataset=dataset)
    known = _READ.get(key)
    if known is not None and tree_signature(root, known[1]) == known[0]:
        return list(known[1])
    samples = read_samples(spec, root, layout=layout, dataset=dataset)
    _READ[key] = (tree_signature(root, samples), list(samples))
    return list(samples)
