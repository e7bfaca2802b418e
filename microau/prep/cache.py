"""One ``.npz`` file per prepared clip, keyed by a hash of everything the result depends on.

The key is SHA-256 over: the cache format version, the preparation settings (every field of
``PrepSettings``), the bytes of the onset and apex files, the size of the landmark model file and,
for the learned magnifier, the bytes of its checkpoint. A changed setting, a changed frame or a
changed model therefore gives a new key and a recomputation; a stale file is never read (it stays
on disk until the cache directory is cleared). The file name also carries the clip id, for humans.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np

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


def save(path: Path, arrays: dict) -> None:
    """Atomic write (temporary file + rename), so an interrupted run leaves no broken entry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: Path) -> dict | None:
    """The arrays of an entry, or None when it is missing or unreadable (then recomputed)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError):
        return None
