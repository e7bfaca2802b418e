"""One ``.npz`` file per prepared clip, keyed by a hash of everything the result depends on.

The key is SHA-256 over: the cache format version, the preparation settings (every field of
``PrepSettings``), the bytes of the onset and apex files, the size of the landmark model file and,
for the learned magnifier, the bytes of its checkpoint. A changed setting, a changed frame or a
changed model therefore gives a new key and a recomputation; a stale file is never read (it stays
on disk until the cache directory is cleared). The file name also carries the clip id, for humans.

Entries are written to a temporary name and renamed, with the permissions the user's umask gives.
On reading, every array is decompressed in full (zip checks each one's CRC-32) and the caller's
list of names is checked; a damaged entry is reported by path and computed again.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

CACHE_VERSION = 2


def default_cache_dir() -> Path:
    """``$MICROAU_CACHE/prep`` (``~/.cache/microau/prep`` by default)."""
    root = os.environ.get("MICROAU_CACHE") or Path.home() / ".cache" / "microau"
    return Path(root) / "prep"


def file_digest(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            b = fh.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def clip_key(settings_json: dict, sources: list[Path], extra: dict | None = None) -> str:
    """Hex SHA-256 of the settings, the source files' bytes and ``extra``."""
    h = hashlib.sha256()
    h.update(f"microau-prep-cache-v{CACHE_VERSION}\n".encode())
    h.update(json.dumps(settings_json, sort_keys=True, default=str).encode())
    for p in sources:
        h.update(b"\nfile:")
        h.update(file_digest(Path(p)).encode())
    if extra:
        h.update(b"\nextra:")
        h.update(json.dumps(extra, sort_keys=True, default=str).encode())
    return h.hexdigest()


def _safe(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", s)


def cache_path(cache_dir: Path, dataset: str, clip_id: str, key: str) -> Path:
    return Path(cache_dir) / _safe(dataset) / f"{_safe(clip_id)}__{key[:24]}.npz"


def new_temp_path(folder: Path, prefix: str = ".tmp-", suffix: str = "") -> Path:
    """A fresh, unused name in ``folder`` for a file or folder that will be renamed into place."""
    return Path(folder) / f"{prefix}{os.getpid()}-{secrets.token_hex(6)}{suffix}"


def make_staging_dir(parent: Path, prefix: str) -> Path:
    """A new, empty folder in ``parent`` with the permissions of a plain ``mkdir`` (the user's
    umask applies; ``tempfile.mkdtemp`` would make it 0700), to be renamed into place when full."""
    Path(parent).mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        path = new_temp_path(parent, prefix)
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot create a staging folder {prefix}* in {parent}")


def save(path: Path, arrays: dict) -> None:
    """Atomic write (temporary file + rename), so an interrupted run leaves no broken entry.

    The file gets the permissions of a plain ``open`` (the user's umask applies)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = new_temp_path(path.parent, suffix=".npz")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load(path: Path, expected: set[str] | None = None) -> dict | None:
    """The arrays of an entry, or None when it is missing or damaged (then recomputed).

    Every array is read in full, so zip's CRC-32 of each member is checked; ``expected`` are the
    array names an entry must hold. A damaged entry (truncated, partly overwritten, or of another
    layout) is reported with a warning that names the file."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as err:  # BadZipFile, zlib.error, OSError, ValueError, EOFError, KeyError
        log.warning("preparation cache entry %s is damaged (%s: %s); computing the clip again",
                    path, type(err).__name__, str(err).splitlines()[0] if str(err) else "")
        return None
    if expected is not None and set(arrays) != set(expected):
        log.warning("preparation cache entry %s is damaged (it holds %s, not %s); computing the clip again",
                    path, sorted(arrays), sorted(expected))
        return None
    return arrays
