"""AUs across data sets, as tables for the book: which AUs are compared across sets (the cross-set
list, ``microau.aus.CROSS_SET_AUS``), which sets score which AU, how each set spells an AU cell and
what the reader keeps of it, and each set's published format.

Harmonising keeps every coded AU in ``Sample.aus`` without its side or position prefix (so AU12
of CASME II and R12 of CAS(ME)^3 are one label) and the prefixed codes in ``Sample.sides`` (meb
drops laterality; we keep it). A run scores the AUs :func:`microau.data.registry.evaluated_aus`
gives; across sets, the AUs every AU-coded part scores.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable

import pandas as pd

from ..aus import AU_LANDMARKS, CROSS_SET_AUS, DATASET_AUS
from . import registry
from .types import Sample

FACS_NAMES = {1: "inner brow raiser", 2: "outer brow raiser", 4: "brow lowerer", 5: "upper lid raiser",
              6: "cheek raiser", 7: "lid tightener", 9: "nose wrinkler", 10: "upper lip raiser",
              12: "lip corner puller", 14: "dimpler", 15: "lip corner depressor", 17: "chin raiser"}
AU_SETS = ("casme2", "samm", "casme3", "casme", "4dme", "mmew")  # the AU-coded sets
SET_NAMES = {"casme2": "CASME II", "samm": "SAMM", "casme3": "CAS(ME)^3 A", "casme": "CASME",
             "4dme": "4DME", "mmew": "MMEW", "smic": "SMIC"}
# How each set spells an AU cell, and what the reader keeps (as read from public sources).
SPELLING = {
    "casme2": ("Action Units", "4+7+L10, R12, 12.0", "L/R kept in Sample.sides; a number cell read as an AU"),
    "samm": ("Action Units", "A1B+A2C, R12+R15, 7B+ref(43)", "intensity letter dropped; ref(...) not coded, noted"),
    "casme3": ("AU", "L12+4+T1 (text cells, unsorted)", "L/R/T/B kept in Sample.sides; T/B noted"),
    "casme": ("Action Units (or AU)", "4+L10", "as CASME II"),
    "4dme": ("AUs", "AU4+AU7+AU10(k)", "'AU' read past; an AU marked (k) is not counted, noted"),
    "mmew": ("Action Units", "4+7, R12", "as CASME II"),
    "smic": ("(none)", "", "no AUs: label-free MER only"),
}


def harmonisation_table(samples_by_set: dict[str, Iterable[Sample]] | None = None) -> pd.DataFrame:
    """One row per AU of the cross-set list: its FACS name, whether the model can read it (a Table I
    landmark group) and, per AU-coded set, 'scored' when a run on that set scores it. With
    ``samples_by_set`` ({name: samples}), each set's column gives the clips coding the AU instead
    (with how many of them carry a side prefix, 'n (L/R m)'), marked '*' when scored."""
    rows = []
    counts = {name: (Counter(a for s in samples for a in s.aus),
                     Counter(int(c[1:]) for s in samples for c in set(s.sides) if c[0] in "LR"))
              for name, samples in (samples_by_set or {}).items()}
    sets = list(samples_by_set) if samples_by_set else list(AU_SETS)
    for au in CROSS_SET_AUS:
        row = {"AU": f"AU{au}", "FACS name": FACS_NAMES[au],
               "model reads it": "yes (Table I region)" if au in AU_LANDMARKS else "no (baseline only)",
               "paper's selection": ", ".join(SET_NAMES[b] for b, aus in DATASET_AUS.items() if au in aus) or "-"}
        for name in sets:
            scored = registry.is_au_coded(name) and au in registry.evaluated_aus(name)
            label = SET_NAMES.get(registry.base_dataset(name), name)
            if name in counts:
                n, sided = counts[name][0][au], counts[name][1][au]
                row[label] = f"{n}" + (f" (L/R {sided})" if sided else "") + ("*" if scored else "")
            else:
                row[label] = "scored" if scored else "-"
        rows.append(row)
    return pd.DataFrame(rows)


def spelling_table() -> pd.DataFrame:
    """How each set writes its AU cells and what the reader keeps."""
    return pd.DataFrame([{"data set": SET_NAMES[k], "AU column": col, "cells look like": example,
                          "the reader": rule} for k, (col, example, rule) in SPELLING.items()])


def formats_table() -> pd.DataFrame:
    """Each set's sheet and frame layout as its reader's spec expects them."""
    rows = []
    for key in (*registry.BASE_DATASETS, *registry.OTHER_DATASETS):
        spec = registry.sheet_spec(key)
        rows.append({"data set": SET_NAMES.get(key, key), "registry name": key,
                     "sheet": spec.root_holds, "columns read": ", ".join(spec.columns),
                     "frames": spec.layout_help(), "notes": spec.note})
    return pd.DataFrame(rows)


def book_tables() -> dict[str, str]:
    """The Markdown tables of the book's chapter page (``book/other_datasets.md`` holds them; a
    test keeps the page and the code in step)."""
    def md(df: pd.DataFrame) -> str:  # angle brackets are text, not HTML, on the page
        return df.to_markdown(index=False).replace("<", "&lt;").replace(">", "&gt;")

    return {"FORMATS": md(formats_table().drop(columns=["registry name"])),
            "HARM": md(harmonisation_table()), "SPELL": md(spelling_table())}
