"""Safe files for the run store: every output is written to a temporary name and renamed, and the
completion marker ``DONE`` records each output's size and SHA-256 so that read-back can verify it.

A reader never sees half a file: either the old file (or none) or the whole new one. A file
damaged later (a truncated copy, a full disk, a careless edit) no longer matches its record in
``DONE``; :func:`verify_outputs` then raises :class:`DamagedRunError` naming the file.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

DONE = "DONE"
DONE_FORMAT = 1
TMP_PREFIX = ".tmp-"  # temporary names start with this; such files are the store's own


class DamagedRunError(ValueError):
    """A stored run (or one of its fold files) is missing a file or does not match its record."""

    def __init__(self, path: Path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


def write_atomic(path: Path, write: Callable[[io.BufferedWriter], None]) -> Path:
    """Call ``write(fh)`` on a temporary file next to ``path``, flush it to disk, then rename it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX + path.name + ".", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    return write_atomic(path, lambda fh: fh.write(data))


def write_text_atomic(path: Path, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, value) -> Path:
    return write_text_atomic(path, json.dumps(value, indent=2))


def write_csv_atomic(path: Path, table) -> Path:
    """A pandas DataFrame as CSV, without its index."""
    return write_text_atomic(path, table.to_csv(index=False))


def write_npz_atomic(path: Path, **arrays) -> Path:
    """Compressed .npz; its members carry zip CRCs, so damage is also caught when it is read."""
    return write_atomic(path, lambda fh: np.savez_compressed(fh, **arrays))


def remove_stale_temporaries(folder: Path) -> int:
    """Delete temporary files this module left behind in ``folder`` (an interrupted write)."""
    n = 0
    for p in Path(folder).glob(TMP_PREFIX + "*"):
        if p.is_file():
            p.unlink(missing_ok=True)
            n += 1
    return n


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def write_done(run_dir: Path, outputs: list[str], extra: dict | None = None) -> Path:
    """Mark ``run_dir`` finished, recording size and SHA-256 of each of ``outputs`` (file names)."""
    run_dir = Path(run_dir)
    record = {
        "format": DONE_FORMAT,
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
        "outputs": {name: {"size": (run_dir / name).stat().st_size, "sha256": sha256_of(run_dir / name)}
                    for name in outputs},
        **(extra or {}),
    }
    return write_json_atomic(run_dir / DONE, record)


def read_done(run_dir: Path) -> dict:
    """The completion record of ``run_dir``; DamagedRunError if it is not a record this module wrote."""
    marker = Path(run_dir) / DONE
    try:
        record = json.loads(marker.read_text())
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        record = None
    if not isinstance(record, dict) or record.get("format") != DONE_FORMAT or \
            not isinstance(record.get("outputs"), dict):
        raise DamagedRunError(marker, "the completion marker records no checksums of the run's files "
                                      "(written by an older version of microau, or damaged)")
    return record


def verify_outputs(run_dir: Path, expected: tuple[str, ...] = ()) -> dict:
    """Check every output recorded in ``DONE`` (and every name in ``expected``) against its size and
    SHA-256. Returns the record; raises DamagedRunError naming the first file that does not match."""
    run_dir = Path(run_dir)
    record = read_done(run_dir)
    outputs = record["outputs"]
    for name in expected:
        if name not in outputs:
            raise DamagedRunError(run_dir / DONE, f"the completion marker does not record {name}")
    for name, want in outputs.items():
        path = run_dir / name
        if not path.is_file():
            raise DamagedRunError(path, "missing")
        size = path.stat().st_size
        if size != want.get("size"):
            raise DamagedRunError(path, f"{size} bytes, but {want.get('size')} were written")
        if sha256_of(path) != want.get("sha256"):
            raise DamagedRunError(path, "its SHA-256 differs from the one recorded when it was written")
    return record
