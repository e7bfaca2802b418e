"""The table a table page opens with, one per data set of ours: every row of the paper's table
with the paper's number and ours side by side for each metric, then each row's F1 difference from
the table's reference row (the paper's and ours), our seed band and the verdict."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..paper import metric_name
from .labels import ours_label, paper_label

DIFF = "F1: row − reference"
BAND = "seed band ±"
VERDICT = "verdict"


def _verdict_word(row: pd.Series) -> str:
    """How the row meets the paper ('holds', ...); a row of ours without a paper value gets our
    direction against the reference instead."""
    agreement = row.get("agreement")
    return agreement if isinstance(agreement, str) and agreement else row["verdict"]


def side_by_side(long: pd.DataFrame, verdicts: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Rows in the paper's order; columns (metric, source): for each metric the paper's value
    (``paper · <data set>``) next to ours (``ours · <data>``; mean and sd when several seeds), then
    ``F1: row − reference`` for the paper and for us, our seed band and the verdict
    (``report.verdicts``). The reference row shows '—' in the difference and 'reference'."""
    part = long[long.dataset == dataset]
    if part.empty:
        return pd.DataFrame()
    labels = part.drop_duplicates("row").sort_values("row")["label"].tolist()
    pl, ol = paper_label(dataset), ours_label(dataset)
    cols: dict[tuple[str, str], pd.Series] = {}
    for m in part.metric.drop_duplicates():
        sub = part[part.metric == m].set_index("label")
        name = metric_name(m)
        cols[(name, pl if m != "text_similarity" else "paper (one value for both data sets)")] = sub["paper"]
        n = int(sub["n_seeds"].max()) if "n_seeds" in sub else 1
        if n > 1:
            cols[(name, f"{ol} (mean of {n} seeds)")] = sub["ours"]
            cols[(name, "sd over seeds")] = sub["ours_sd"]
        else:
            cols[(name, ol)] = sub["ours"]
    v = verdicts[verdicts["data"] == ol].set_index("row") if not verdicts.empty else pd.DataFrame()
    if not v.empty:
        cols[(DIFF, pl)] = v["paper: row − reference"]
        cols[(DIFF, ol)] = v["ours: row − reference"]
        cols[(DIFF, BAND)] = v["seed band ±"]
        cols[(DIFF, VERDICT)] = v.apply(_verdict_word, axis=1)
    out = pd.DataFrame(cols).reindex(labels)
    if not v.empty:
        ref = v["reference"].iloc[0]
        out.loc[ref, (DIFF, VERDICT)] = "reference"
        out[(DIFF, VERDICT)] = out[(DIFF, VERDICT)].fillna("—")
    out.columns = pd.MultiIndex.from_tuples(out.columns)
    out.index.name = "row"
    return out


def numeric_columns(df: pd.DataFrame) -> list:
    """The columns of ``df`` that hold numbers (right-aligned with fixed decimals on the page)."""
    return [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) or
            (df[c].dtype == object and df[c].map(lambda x: isinstance(x, (int, float, np.number))).all())]
