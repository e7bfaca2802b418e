"""Helpers the data-set specs share: finding a coding sheet by its name, and subject cells that
are names rather than numbers."""
from __future__ import annotations

import logging
import re
from pathlib import Path

from .au_strings import cell_text

log = logging.getLogger(__name__)
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]*$")


def find_sheet_matching(root: Path, what: str, pattern: str, example: str) -> Path:
    """The one workbook in ``root`` whose name matches ``pattern`` (a regular expression, case
    ignored); the last by name when several do (logged). FileNotFoundError saying what to put there."""
    regex = re.compile(pattern, re.IGNORECASE)
    found = sorted(p for p in root.iterdir()
                   if p.is_file() and regex.match(p.name) and not p.name.startswith("~$"))
    if not found:
        raise FileNotFoundError(
            f"{what}: no coding sheet in '{root}' (expected a workbook such as '{example}'). Put the "
            "sheet that ships with the data set in the root folder.")
    if len(found) > 1:
        log.info("%s: %d sheets match; using '%s' (last by name of %s)", what, len(found),
                 found[-1].name, [p.name for p in found])
    return found[-1]


def name_subject(cell: object, what: str, example: str) -> str:
    """A subject cell that names a folder ('S01', 'sub05'), read as text: it must be a plain name."""
    text = cell_text(cell)
    if not _SAFE_NAME.match(text):
        raise ValueError(f"subject {text!r} is not a {what} subject name (expected e.g. {example!r})")
    return text
