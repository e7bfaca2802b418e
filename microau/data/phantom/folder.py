"""The phantom's own files in its output folder: the completion marker, the list of files it
wrote (with their sha256), and moving a finished set in without touching anything else.

A folder is the phantom's only if it holds the marker. A non-empty folder without one is refused;
in a phantom folder only the files the list names are replaced, and only while unchanged."""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Callable

# the files a phantom written before the file list existed holds (relative paths), from its folder
LegacyFiles = Callable[[Path], "list[str]"]

MARKER = ".phantom-complete.json"
FILE_LIST = ".phantom-files.json"


class PhantomFolderError(ValueError):
    """The output folder holds files the phantom did not write (or changed since)."""


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def new_stage(out: Path) -> Path:
    """An empty staging folder next to ``out`` (mode as the umask allows, like any new folder)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = out.parent / f".{out.name}.partial-{os.getpid()}-{secrets.token_hex(4)}"
    stage.mkdir()
    return stage


def record_files(stage: Path) -> None:
    """Write the list of every file under ``stage`` with its sha256 (before the marker)."""
    files = {p.relative_to(stage).as_posix(): sha256_of(p)
             for p in sorted(stage.rglob("*")) if p.is_file()}
    (stage / FILE_LIST).write_text(json.dumps({"files": files}, indent=1))


def owned_files(out: Path, legacy: LegacyFiles | None = None) -> dict[str, str]:
    """relative path -> sha256 of the files the phantom wrote in ``out`` (its list included;
    '' where the sha256 is not known: the files ``legacy`` names for a phantom written before
    the list existed).

    Raises PhantomFolderError, saying what to do, for a non-empty folder that is not the
    phantom's (no marker), or one whose files are known neither way."""
    if not any(out.iterdir()):
        return {}
    if not (out / MARKER).is_file():
        raise PhantomFolderError(
            f"'{out}' is not empty and was not written by the phantom (it has no {MARKER}); "
            "nothing was changed. Give an empty or new folder (e.g. --out "
            f"{out / 'phantom'}), or move the folder's contents elsewhere first.")
    try:
        files = json.loads((out / FILE_LIST).read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        files = None
    if files is None and legacy is not None and not (out / FILE_LIST).exists():
        try:
            files = {rel: "" for rel in legacy(out)}
        except (OSError, ValueError, KeyError, TypeError):
            files = None
    if files is None:
        raise PhantomFolderError(
            f"'{out}' holds a phantom that did not record which files it wrote ({FILE_LIST} is "
            "missing or unreadable), so it cannot be rewritten safely; nothing was changed. "
            "Delete that folder yourself if it holds nothing of yours, or give another folder."
        ) from None
    return {**files, FILE_LIST: "", MARKER: ""}


def _check_rewrite(out: Path, owned: dict[str, str], new: list[str]) -> None:
    """Refuse when a file the phantom wrote was changed since, a path passes through a link, or
    a new file would land on something that is not the phantom's."""
    problems = []
    for rel, sha in owned.items():
        p = out / rel
        if p.is_symlink() or (p.exists() and not p.is_file()):
            problems.append(f"no longer the file the phantom wrote: {rel}")
        elif sha and p.is_file() and sha256_of(p) != sha:
            problems.append(f"changed since the phantom wrote it: {rel}")
    for rel in sorted(set(owned) | set(new)):
        parts = Path(rel).parts
        for k in range(1, len(parts) + 1):
            p, sub = out.joinpath(*parts[:k]), "/".join(parts[:k])
            if k < len(parts) and p.is_symlink():
                problems.append(f"a link, not a folder the phantom made: {sub}")
                break
            if sub in owned or not (p.exists() or p.is_symlink()):
                continue
            if k == len(parts) or not p.is_dir():
                problems.append(f"not written by the phantom: {sub}")
                break
    if problems:
        raise PhantomFolderError(
            f"'{out}': the phantom would replace files that are not its own; nothing was changed:\n"
            + "\n".join(f"  {line}" for line in dict.fromkeys(problems))
            + "\nMove these elsewhere (or give another folder) and run again.")


def check_out_folder(out: Path, legacy: LegacyFiles | None = None) -> None:
    """Fail early (before any frame is drawn) on a folder the phantom may not write into."""
    if out.exists() and not out.is_dir():
        raise PhantomFolderError(f"'{out}' is a file, not a folder; give a folder for the phantom")
    if out.is_dir():
        _check_rewrite(out, owned_files(out, legacy), [])


def publish(stage: Path, out: Path, legacy: LegacyFiles | None = None) -> None:
    """Move the finished set in ``stage`` to ``out``: a rename when ``out`` is new or empty;
    otherwise remove the files the phantom wrote before (and the folders they leave empty), then
    move the new files in, the marker last."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        os.replace(stage, out)
        return
    if out.exists() and not out.is_dir():
        raise PhantomFolderError(f"'{out}' is a file, not a folder; give a folder for the phantom")
    owned = owned_files(out, legacy)
    new = sorted(p.relative_to(stage).as_posix() for p in stage.rglob("*") if p.is_file())
    _check_rewrite(out, owned, new)
    (out / MARKER).unlink(missing_ok=True)  # from here on the folder does not look complete
    for rel in sorted(owned, key=lambda r: r == FILE_LIST):
        (out / rel).unlink(missing_ok=True)
        _prune_empty(out, (out / rel).parent)
    for rel in sorted(new, key=lambda r: r == MARKER):
        dest = out / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(stage / rel, dest)
    shutil.rmtree(stage, ignore_errors=True)


def _prune_empty(out: Path, folder: Path) -> None:
    """Remove ``folder`` and its parents below ``out`` while they are empty."""
    while folder != out and out in folder.parents:
        try:
            folder.rmdir()
        except OSError:  # not empty (holds something else) or gone
            return
        folder = folder.parent
