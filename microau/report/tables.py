"""Paper-versus-ours tables: one tidy frame per table, pivoted side by side with labelled columns."""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

import numpy as np
import pandas as pd

from ..data.registry import base_dataset
from ..paper import dataset_name, metric_name, paper_table
from .labels import MER_METRICS, SEP, ours_label, paper_label
from .statistics import f1_bootstrap_se, majority_scores

if TYPE_CHECKING:  # pragma: no cover
    from ..runs import Runs


def our_value(result, metric: str) -> float:
    """One number of a run: 'f1' / 'acc' (mean over AUs), 'text_similarity', or a MER metric."""
    if metric == "f1":
        return result.f1
    if metric == "acc":
        return result.acc
    mer = result.mer_metrics or {}
    if metric == "text_similarity":
        v = mer.get("text_similarity")
        return float("nan") if v is None else float(v)
    if metric in MER_METRICS:
        if not mer.get("available"):
            return float("nan")
        return float(mer.get(metric.removeprefix("mer_"), float("nan")))
    raise KeyError(f"unknown metric {metric!r}")


def provenance(runs: Runs) -> pd.DataFrame:
    """Where our numbers come from: one column per data set (source, size, model, epochs, commit)."""
    rows = []
    for dataset in runs.datasets:
        first = next(r for (v, d), r in runs.items() if d == dataset)
        cfg, meta = first.config, first.meta
        rows.append({
            "column": ours_label(dataset),
            "data": ("simulated (phantom)" if meta.get("source") == "phantom" else meta.get("source")),
            "clips": meta.get("n_clips"),
            "subjects (LOSO folds)": meta.get("n_subjects"),
            "profile": cfg.profile,
            "CLIP": f"{cfg.clip_model} ({cfg.pretrained or 'random init'})",
            "epochs": cfg.epochs,
            "device": meta.get("device"),
            "git commit": str(meta.get("git_commit", ""))[:12],
        })
    return pd.DataFrame(rows).set_index("column").T.rename_axis(None, axis=1)


def table_rows(table_id: str) -> list[dict]:
    """The paper's rows of a table, then our extra rows for the readings of that table
    (``microau.config.READING_ROWS``: same method, another reading of the text; no paper value)."""
    from ..config import READING_ROWS

    rows = list(paper_table(table_id).rows)
    for k, (label, variant) in enumerate(READING_ROWS.get(table_id, {}).items(), start=1):
        rows.append({"row": len(paper_table(table_id).rows) + k, "label": f"{label} (our reading)",
                     "variant": variant, "reading": True})
    return rows


def comparison(table_id: str, runs: Runs, metrics: Iterable[str] | None = None,
               bootstrap: bool = True) -> pd.DataFrame:
    """Tidy paper-vs-ours frame of one table: one line per (row, our data set, metric).

    Columns: row, label, variant, dataset (ours), base, metric, paper, ours, ours_se (F1 only),
    ours_sd and n_seeds. When ``runs`` holds several seeds of a row, ``ours`` is their mean and
    ``ours_sd`` their standard deviation (sample, ddof=1); with one seed ``ours_sd`` is NaN.
    Rows of the paper without a variant (other methods) are left out; see :func:`sota_table`.
    """
    table = paper_table(table_id)
    metrics = tuple(metrics or table.metrics)
    records = []
    for r in table_rows(table_id):
        variant = r.get("variant")
        if not variant:
            continue
        for dataset in runs.datasets:
            result = runs.get(variant, dataset)
            if result is None:
                continue
            for m in metrics:
                if r.get("reading"):
                    paper_v = None
                elif m == "text_similarity":
                    paper_v = r.get("text_similarity")
                else:
                    paper_v = table.value(r["row"], base_dataset(dataset), m)
                se = f1_bootstrap_se(result) if (bootstrap and m == "f1") else float("nan")
                seeds = runs.by_seed(variant, dataset) if hasattr(runs, "by_seed") else {}
                values = [our_value(res, m) for res in seeds.values()] or [our_value(result, m)]
                records.append({
                    "table": table.id, "row": r["row"], "label": r["label"], "variant": variant, "dataset": dataset,
                    "base": base_dataset(dataset), "metric": m,
                    "paper": float("nan") if paper_v is None else float(paper_v),
                    "ours": float(np.mean(values)), "ours_se": se,
                    "ours_sd": float(np.std(values, ddof=1)) if len(values) > 1 else float("nan"),
                    "n_seeds": len(values),
                })
    return pd.DataFrame(records)


def comparison_table(long: pd.DataFrame, index_name: str = "") -> pd.DataFrame:
    """Side-by-side table from :func:`comparison`: rows in the paper's order, columns grouped by
    source: ``paper · <data set>`` then ``ours · <data>`` for each of our data sets.
    A metric the paper gives once per row (TextSi) gets its own ``paper`` group at the end."""
    if long.empty:
        return pd.DataFrame()
    labels = long.drop_duplicates("row").sort_values("row")["label"].tolist()
    columns: dict[tuple[str, str], pd.Series] = {}
    per_row_metrics = [m for m in long.metric.unique() if m == "text_similarity"]
    seen_paper: set[str] = set()
    for dataset in long.dataset.drop_duplicates():
        part = long[long.dataset == dataset]
        metrics = [m for m in part.metric.drop_duplicates() if m not in per_row_metrics]
        if paper_label(dataset) not in seen_paper:
            seen_paper.add(paper_label(dataset))
            for m in metrics:
                s = part[part.metric == m].set_index("label")["paper"]
                columns[(paper_label(dataset), metric_name(m))] = s
        for m in part.metric.drop_duplicates():
            sub = part[part.metric == m].set_index("label")
            if "n_seeds" in sub and sub["n_seeds"].max() > 1:
                n = int(sub["n_seeds"].max())
                columns[(ours_label(dataset), f"{metric_name(m)} (mean of {n} seeds)")] = sub["ours"]
                columns[(ours_label(dataset), f"{metric_name(m)} sd")] = sub["ours_sd"]
            else:
                columns[(ours_label(dataset), metric_name(m))] = sub["ours"]
    for m in per_row_metrics:
        s = long[long.metric == m].drop_duplicates("label").set_index("label")["paper"]
        columns[(f"paper{SEP}one value per row", metric_name(m))] = s
    df = pd.DataFrame(columns).reindex(labels)
    df.columns = pd.MultiIndex.from_tuples(df.columns, names=["source", "metric"])
    df.index.name = index_name or None
    return df


SHORT = 16  # characters: a text column whose cells are all this short is not wrapped


class BookTable:
    """A styled table as a page shows it: inside its own box that scrolls sideways when the table
    is wider than the page (``book/_static/microau.css``: ``div.microau-table``)."""

    def __init__(self, styler):
        self.styler = styler

    def _repr_html_(self) -> str:
        return f'<div class="microau-table">{self.styler.to_html()}</div>'

    @property
    def data(self) -> pd.DataFrame:
        return self.styler.data


def styled(df: pd.DataFrame, caption: str | None = None, precision: int = 3, fmt: str | None = None) -> BookTable:
    """The table as the book shows it: numbers right-aligned with ``precision`` decimals (or the
    format ``fmt``, e.g. '{:.1e}'), whole numbers as such, '—' where there is no number."""
    sty = df.style.format(precision=precision, na_rep="—")
    numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
    whole = [c for c in numeric if pd.api.types.is_integer_dtype(df[c])]
    if fmt and numeric:
        sty = sty.format(fmt, subset=[c for c in numeric if c not in whole], na_rep="—")
    if whole:
        sty = sty.format("{:d}", subset=whole, na_rep="—")
    if caption:
        sty = sty.set_caption(caption)
    sty = sty.set_table_styles([
        {"selector": "caption", "props": "caption-side: top; font-weight: bold; text-align: left;"},
        {"selector": "th.col_heading", "props": "text-align: center;"},
    ])
    if numeric:
        sty = sty.set_table_styles({c: [{"selector": "td", "props": "text-align: right;"}] for c in numeric},
                                   overwrite=False)
    short = [c for c in df.columns if c not in numeric and df[c].astype(str).str.len().max() <= SHORT]
    if short:  # a word or two ('within noise', 'yes (8 runs)'): kept on one line
        sty = sty.set_table_styles({c: [{"selector": "td", "props": "white-space: nowrap;"}] for c in short},
                                   overwrite=False)
    return BookTable(sty)


def sota_table(runs: Runs, variant: str = "full") -> pd.DataFrame:
    """Table IX: the paper's rows (other methods and Micro-AU CLIP) with the paper's F1, and one
    extra row with our full model's F1, each in a column labelled with its source."""
    table = paper_table("table9")
    frame = table.frame()
    out = pd.DataFrame({
        "year": frame["year"].astype("Int64").astype(str).to_numpy(),
        "ref": frame["ref"].map(lambda v: "" if pd.isna(v) else f"[{int(v)}]").to_numpy(),
    }, index=frame["label"].to_numpy())
    for d in table.datasets:
        out[(f"paper{SEP}{dataset_name(d)}")] = frame[f"{d}_f1"].to_numpy()
    ours_cols = {}
    for dataset in runs.datasets:
        res = runs.get(variant, dataset)
        ours_cols[ours_label(dataset)] = np.nan if res is None else res.f1
    for col in ours_cols:
        out[col] = np.nan
    ours_row = pd.DataFrame({**{c: [np.nan] for c in out.columns}}, index=["Micro-AU CLIP (this implementation)"])
    ours_row["year"] = ""
    ours_row["ref"] = ""
    for col, v in ours_cols.items():
        ours_row[col] = v
    out = pd.concat([out, ours_row])
    out.index.name = "method"
    cols = [c for c in out.columns if c not in ("year", "ref")]
    out[cols] = out[cols].astype(float)
    return out


def mer_table(runs: Runs, variants: tuple[str, ...] = ("table10/wo_gda", "table10/full")) -> pd.DataFrame:
    """Table X as printed (the paper's F1 per method and data set) with our UF1 for the two
    Micro-AU CLIP rows, each column labelled with its source. The other scores are in
    :func:`mer_details`."""
    table = paper_table("table10")
    frame = table.frame().set_index("label")
    columns: dict[tuple[str, str], pd.Series] = {("", "learning"): frame["learning"]}
    for d in table.datasets:
        columns[(f"paper{SEP}{dataset_name(d)}", "F1")] = frame[f"{d}_f1"]
    for dataset in runs.datasets:
        values = pd.Series(np.nan, index=frame.index)
        for v in variants:
            res = runs.get(v, dataset)
            if res is not None:
                values[table.row(v)["label"]] = our_value(res, "uf1")
        columns[(ours_label(dataset), "UF1")] = values
    out = pd.DataFrame(columns)
    out.columns = pd.MultiIndex.from_tuples(out.columns, names=["source", "metric"])
    out.index.name = "method"
    return out


def mer_details(runs: Runs, variants: tuple[str, ...] = ("table10/wo_gda", "table10/full")) -> pd.DataFrame:
    """Our label-free MER scores (UF1, UAR, WF1, accuracy, clips) per data set and row, with the
    scores of always answering the most frequent class on the same clips for scale."""
    table = paper_table("table10")
    rows = []
    for dataset in runs.datasets:
        first = None
        for v in variants:
            res = runs.get(v, dataset)
            if res is None:
                continue
            first = first or res
            rows.append({"data": ours_label(dataset), "method": table.row(v)["label"],
                         **{metric_name(m): our_value(res, m) for m in MER_METRICS},
                         "clips": (res.mer_metrics or {}).get("n")})
        if first is not None:
            maj = majority_scores(first)
            rows.append({"data": ours_label(dataset), "method": "guess: most frequent class",
                         **{metric_name(m): maj.get(m, float("nan")) for m in MER_METRICS},
                         "clips": maj.get("n")})
    return pd.DataFrame(rows).set_index(["data", "method"])


def per_au_table(runs: "Runs", labels: dict[str, str] | None = None) -> pd.DataFrame:
    """F1 and accuracy per AU of every run a page shows: one row per (our data, row), one column
    per (AU, metric), then the mean over AUs. ``labels`` names a variant's row (default: the
    variant key)."""
    records = {}
    for key, result in runs.items():
        if len(key) != 2:
            continue  # extra seeds are summarised elsewhere
        variant, dataset = key
        m = result.metrics.set_index("au")
        row = {}
        for au in m.index:
            for metric in ("f1", "acc"):
                row[(au, metric_name(metric))] = float(m.loc[au, metric])
        records[(ours_label(dataset), (labels or {}).get(variant, variant))] = row
    out = pd.DataFrame.from_dict(records, orient="index")
    if out.empty:
        return out
    aus = list(dict.fromkeys(a for a, _ in out.columns))
    aus = [a for a in aus if a != "mean"] + (["mean"] if "mean" in aus else [])
    out = out[[(a, m) for a in aus for m in (metric_name("f1"), metric_name("acc")) if (a, m) in out.columns]]
    out.columns = pd.MultiIndex.from_tuples(out.columns, names=["AU", "metric"])
    out.index = pd.MultiIndex.from_tuples(out.index, names=["data", "row"])
    return out
