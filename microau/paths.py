"""Where things live: the checkout this package runs from, and the one default for runs."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path


def repo_root() -> Path:
    """The checkout this package runs from (it holds ``_toc.yml`` and ``notebooks/``).

    With an editable install this is the parent of the ``microau`` package; otherwise the first
    parent of the working directory that looks like the repository; else the working directory.
    """
    here = Path(__file__).resolve().parent.parent
    cwd = Path.cwd().resolve()
    for c in (here, cwd, *cwd.parents):
        if (c / "_toc.yml").is_file() and (c / "microau").is_dir():
            return c
    return cwd


def runs_dir(path: str | os.PathLike | None = None) -> Path:
    """Where runs are stored: ``path`` if given (a relative path is taken from the repository
    root, so a notebook's working directory does not matter), else ``$MICROAU_RUNS``, else
    ``<repository root>/runs``."""
    if path is None or str(path) == "":
        env = os.environ.get("MICROAU_RUNS")
        return Path(env).expanduser().resolve() if env else repo_root() / "runs"
    p = Path(path).expanduser()
    return p if p.is_absolute() else repo_root() / p


def git_commit() -> str:
    """The commit of the checkout this package runs from, '+dirty' when tracked files changed since
    ('unknown' outside a git checkout)."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True,
                                timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return (commit + ("+dirty" if dirty else "")) if commit else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"

