"""Paper-versus-ours tables and the computed sentences that describe them.

The notebooks under ``notebooks/`` hold parameters, calls and plots; the logic is here:

* :func:`run_variants` runs (or reads back) the LOSO runs a table needs;
* :func:`comparison` puts the paper's rows (``microau.paper``) next to ours in one tidy frame;
* :func:`comparison_table` pivots it into the side-by-side table the book shows, every column
  labelled with where its numbers come from (``paper · CASME II``, ``ours · phantom-casme2``);
* ``describe_*`` turn the numbers into sentences, so no number is ever typed into a notebook.

Source labels: the paper's columns name the paper's data set; ours name the data the run used,
``phantom-casme2`` / ``phantom-samm`` for the simulated sets and ``CASME II`` / ``SAMM`` for a
licensed copy.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from .paper import dataset_name, metric_name, paper_table

log = logging.getLogger(__name__)

DEFAULT_DATASETS = ("phantom-casme2", "phantom-samm")
SEP = " · "
MER_METRICS = ("uf1", "uar", "wf1", "mer_acc")  # 'mer_acc': emotion accuracy ('acc' is AU accuracy)


# --------------------------------------------------------------------------- where things are


def repo_root() -> Path:
    """The checkout this package runs from (holds ``_toc.yml`` and ``notebooks/``).

    With an editable install this is the parent of the ``microau`` package; otherwise the first
    parent of the working directory that looks like the repository; else the working directory.
    """
    here = Path(__file__).resolve().parent.parent
    cwd = Path.cwd().resolve()
    candidates = [here, cwd, *cwd.parents]
    for c in candidates:
        if (c / "_toc.yml").is_file() and (c / "microau").is_dir():
            return c
    return Path.cwd().resolve()


def resolve_runs_dir(runs_dir: str | os.PathLike | None = None) -> Path:
    """Where LOSO runs are stored: ``runs_dir`` if given (relative paths are taken from the
    repository root, not the working directory, so papermill's cwd does not matter), else
    ``$MICROAU_RUNS``, else ``<repository root>/runs``."""
    if runs_dir is None or str(runs_dir) == "":
        env = os.environ.get("MICROAU_RUNS")
        return Path(env).expanduser().resolve() if env else repo_root() / "runs"
    p = Path(runs_dir).expanduser()
    return p if p.is_absolute() else (repo_root() / p)


# --------------------------------------------------------------------------- labels


def is_phantom(dataset: str) -> bool:
    return dataset.startswith("phantom-")


def base_of(dataset: str) -> str:
    return dataset.removeprefix("phantom-")


def data_label(dataset: str) -> str:
    """What our numbers were computed on: 'phantom-casme2' stays as is, 'casme2' -> 'CASME II'."""
    return dataset if is_phantom(dataset) else dataset_name(dataset)


def paper_label(dataset: str) -> str:
    """Column group of the paper's numbers for the data set a run imitates or is."""
    return f"paper{SEP}{dataset_name(base_of(dataset))}"


def ours_label(dataset: str) -> str:
    return f"ours{SEP}{data_label(dataset)}"


def paper_group_for(label: str) -> str:
    """The paper column group that an 'ours · <data>' column is compared with:
    'ours · phantom-casme2' and 'ours · CASME II' both -> 'paper · CASME II'."""
    data = label.split(SEP, 1)[-1].strip()
    if is_phantom(data):
        return paper_label(data)
    for key in ("casme2", "samm"):
        if data in (key, dataset_name(key)):
            return paper_label(key)
    return f"paper{SEP}{data}"


# --------------------------------------------------------------------------- running


def make_run_config(profile: str, variant: str, dataset: str, data_root: dict | None = None,
                    device: str = "cpu"):
    """``make_config`` for one notebook run; ``data_root`` maps dataset -> root (real data)."""
    from .config import make_config

    root = None
    if data_root:
        root = data_root.get(dataset) or data_root.get(base_of(dataset))
    if not is_phantom(dataset) and not root:
        raise FileNotFoundError(
            f"dataset {dataset!r} is licensed data: pass its folder in data_root, e.g. "
            f"data_root={{'{dataset}': '/data/{dataset.upper()}'}} (or --root {dataset}=DIR)")
    return make_config(profile, variant, dataset=dataset, data_root=root if not is_phantom(dataset) else None,
                       device=device)


@dataclass
class Runs:
    """The runs one notebook uses, keyed by (variant, dataset)."""

    results: dict = field(default_factory=dict)
    datasets: tuple[str, ...] = ()
    profile: str = ""

    def __getitem__(self, key):
        return self.results[key]

    def get(self, variant: str, dataset: str):
        return self.results.get((variant, dataset))

    def items(self):
        return self.results.items()


def ensure_data(dataset: str, profile: str) -> None:
    """Write the phantom for a profile up front (quietly), so training logs stay short."""
    if not is_phantom(dataset):
        return
    from .config import make_config
    from .data.phantom import ensure_phantom

    cfg = make_config(profile, "full", dataset=dataset)
    ensure_phantom(cfg.base_dataset, seed=0, n_subjects=cfg.n_subjects, progress=False)


# The runs each figure notebook shows, by display name (the table notebooks take their rows from
# microau/paper_results.yaml). ``microau reproduce`` reads these to train every run up front.
FIGURE_VARIANTS: dict[str, dict[str, str]] = {
    "fig5_heatmaps": {"full model": "full"},
    "fig6_similarity": {"local OrigCL": "table8/local_origcl", "MiAUCL": "table8/miaucl"},
    "fig7_tsne": {"without LSI": "table2/gsd_only", "without GSD": "table2/lsi_only", "full model": "full"},
}


def notebook_variants(name: str) -> list[str]:
    """The variants whose LOSO runs a notebook shows ([] for notebooks that train none)."""
    from .paper import paper_table

    if name in FIGURE_VARIANTS:
        return list(FIGURE_VARIANTS[name].values())
    if name.startswith("table"):
        return list(paper_table(name.split("_")[0]).variants)
    return []


def run_variants(variants: Iterable[str], datasets: Iterable[str] = DEFAULT_DATASETS,
                 profile: str = "quick", data_root: dict | None = None, device: str = "cpu",
                 runs_dir=None, progress: bool = False, verbose: bool = True) -> Runs:
    """Run (or read back) every (variant, dataset) pair. Finished runs are read back from
    ``runs_dir``; variants that resolve to the same settings share one run."""
    from .train.loso import run_dir_for, run_loso

    from .train.data import data_key, load_train_data

    runs_path = resolve_runs_dir(runs_dir)
    datasets = tuple(datasets)
    variants = tuple(variants)
    out = Runs(datasets=datasets, profile=profile)
    configs = {(v, d): make_run_config(profile, v, d, data_root, device) for d in datasets for v in variants}
    # Prepare the data of every unfinished run before any training starts: preparation forks
    # worker processes, which is only safe before torch has started its own threads, and each
    # data set is then prepared once for all its variants.
    data: dict[tuple, object] = {}
    for (v, d), cfg in configs.items():
        if (run_dir_for(cfg, runs_path) / "DONE").exists():
            continue
        key = data_key(cfg)
        if key not in data:
            ensure_data(d, profile)
            data[key] = load_train_data(cfg, progress=progress)
    for (variant, dataset), cfg in configs.items():
        done = (run_dir_for(cfg, runs_path) / "DONE").exists()
        key = data_key(cfg)
        t0 = time.perf_counter()
        out.results[(variant, dataset)] = run_loso(cfg, runs_dir=runs_path, progress=progress,
                                                   data=None if done else data.get(key))
        if verbose:
            how = "read back" if done else f"trained in {time.perf_counter() - t0:.0f} s"
            print(f"{variant:22s} {dataset:15s} {how}")
    return out


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


# --------------------------------------------------------------------------- our values


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


def f1_bootstrap_se(result, n_boot: int = 300, seed: int = 0) -> float:
    """Standard error of a run's mean-over-AUs F1 under resampling of clips (with replacement).

    A rough yardstick for how much two rows must differ before the difference means anything;
    it ignores training noise (another seed), so it is a lower bound on the real spread."""
    p = result.predictions
    labels = p.pivot(index="id", columns="au", values="label").to_numpy()
    preds = p.pivot(index="id", columns="au", values="pred").to_numpy()
    rng = np.random.default_rng(seed)
    m = labels.shape[0]
    vals = np.empty(n_boot)
    for b in range(n_boot):
        idx = rng.integers(0, m, m)
        y, q = labels[idx], preds[idx]
        tp = (y * q).sum(0)
        denom = y.sum(0) + q.sum(0)
        f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
        vals[b] = f1.mean()
    return float(vals.std(ddof=1))


# --------------------------------------------------------------------------- comparisons


def comparison(table_id: str, runs: Runs, metrics: Iterable[str] | None = None,
               bootstrap: bool = True) -> pd.DataFrame:
    """Tidy paper-vs-ours frame of one table: one line per (row, our data set, metric).

    Columns: row, label, variant, dataset (ours), base, metric, paper, ours, ours_se (F1 only).
    Rows of the paper without a variant (other methods) are left out; see :func:`sota_table`.
    """
    table = paper_table(table_id)
    metrics = tuple(metrics or table.metrics)
    records = []
    for r in table.rows:
        variant = r.get("variant")
        if not variant:
            continue
        for dataset in runs.datasets:
            result = runs.get(variant, dataset)
            if result is None:
                continue
            for m in metrics:
                if m == "text_similarity":
                    paper_v = r.get("text_similarity")
                else:
                    paper_v = table.value(r["row"], base_of(dataset), m)
                se = f1_bootstrap_se(result) if (bootstrap and m == "f1") else float("nan")
                records.append({
                    "row": r["row"], "label": r["label"], "variant": variant, "dataset": dataset,
                    "base": base_of(dataset), "metric": m,
                    "paper": float("nan") if paper_v is None else float(paper_v),
                    "ours": our_value(result, m), "ours_se": se,
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
            s = part[part.metric == m].set_index("label")["ours"]
            columns[(ours_label(dataset), metric_name(m))] = s
    for m in per_row_metrics:
        s = long[long.metric == m].drop_duplicates("label").set_index("label")["paper"]
        columns[(f"paper{SEP}one value per row", metric_name(m))] = s
    df = pd.DataFrame(columns).reindex(labels)
    df.columns = pd.MultiIndex.from_tuples(df.columns, names=["source", "metric"])
    df.index.name = index_name or None
    return df


def styled(df: pd.DataFrame, caption: str | None = None, precision: int = 3):
    """The table as the book shows it: 3 decimals, '—' where there is no number."""
    sty = df.style.format(precision=precision, na_rep="—")
    if caption:
        sty = sty.set_caption(caption)
    return sty.set_table_styles([
        {"selector": "caption", "props": "caption-side: top; font-weight: bold; text-align: left;"},
        {"selector": "th.col_heading", "props": "text-align: center;"},
    ])


def _fmt(v: float, nd: int = 3) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.{nd}f}"


def _best(s: pd.Series) -> list[str]:
    s = s.dropna()
    if s.empty:
        return []
    return s.index[np.isclose(s.to_numpy(), s.max(), atol=5e-4)].tolist()


def _join(items: list[str]) -> str:
    items = [f"*{i}*" for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def pairwise_agreement(paper: pd.Series, ours: pd.Series, tol: float = 5e-4) -> tuple[int, int, float]:
    """Over all pairs of rows that the paper orders (no tie): how many ours orders the same way,
    how many pairs there are, and Kendall's tau-b between the two columns (nan if undefined)."""
    from scipy.stats import kendalltau

    both = pd.DataFrame({"p": paper, "o": ours}).dropna()
    same = total = 0
    idx = list(both.index)
    for i in range(len(idx)):
        for j in range(i + 1, len(idx)):
            dp = both.p.iloc[i] - both.p.iloc[j]
            do = both.o.iloc[i] - both.o.iloc[j]
            if abs(dp) <= tol:
                continue
            total += 1
            same += int(abs(do) > tol and np.sign(dp) == np.sign(do))
    tau = float("nan")
    if len(both) >= 2 and both.o.nunique() > 1 and both.p.nunique() > 1:
        tau = float(kendalltau(both.p, both.o).statistic)
    return same, total, tau


def _source_sentence(dataset: str, result) -> str:
    if is_phantom(dataset):
        return (f"*{dataset}* is simulated data, so its absolute numbers say nothing about the "
                f"paper's; only the ordering of rows can be compared.")
    cfg = result.config
    if cfg.profile != "paper":
        return (f"This run used the *{cfg.profile}* profile ({cfg.clip_model}, "
                f"{cfg.pretrained or 'random init'}, {cfg.epochs} epochs), not the paper's setting.")
    return "This run used the paper's setting (profile *paper*)."


def describe_comparison(long: pd.DataFrame, runs: Runs, metric: str = "f1") -> str:
    """Markdown: for each of our data sets, the best row of the paper and ours, how many pairs of
    rows are ordered alike, the typical gap, and the resampling noise of our numbers."""
    parts = []
    for dataset in long.dataset.drop_duplicates():
        part = long[(long.dataset == dataset) & (long.metric == metric)].set_index("label")
        if part.empty:
            continue
        name = metric_name(metric)
        pb, ob = _best(part.paper), _best(part.ours)
        same, total, tau = pairwise_agreement(part.paper, part.ours)
        result = runs.get(part.variant.iloc[0], dataset)
        text = [f"**{ours_label(dataset)}** against **{paper_label(dataset)}**."]
        if pb:
            text.append(f"The paper's best row by {name} is {_join(pb)} ({_fmt(part.paper.max())});")
        if ob and part.ours.nunique() > 1:
            text.append(f"ours is {_join(ob)} ({_fmt(part.ours.max())}).")
        else:
            text.append(f"ours gives every row the same {name} ({_fmt(part.ours.max())}), so it "
                        "orders nothing.")
        if total:
            tau_txt = "" if not np.isfinite(tau) else f", Kendall's τ = {tau:+.2f}"
            text.append(f"Of the {total} pairs of rows the paper orders, {same} are ordered the "
                        f"same way by our {name}{tau_txt}.")
        se = part.ours_se.dropna()
        if metric == "f1" and not se.empty:
            spread = part.ours.max() - part.ours.min()
            text.append(f"Our rows span {_fmt(spread)} in {name}; resampling the clips of one run "
                        f"moves its {name} by about {_fmt(se.mean())} (one standard error), so "
                        f"differences below about {_fmt(2 * se.mean())} are within that noise.")
        gap = (part.ours - part.paper).dropna()
        if not gap.empty:
            text.append(f"On average our {name} is {_fmt(abs(gap.mean()))} "
                        f"{'above' if gap.mean() > 0 else 'below'} the paper's.")
        if result is not None:
            text.append(_source_sentence(dataset, result))
        parts.append(" ".join(text))
    return "\n\n".join(parts)


def describe_sweep(long: pd.DataFrame, parameter: str, metric: str = "f1") -> str:
    """Markdown for Tables IV/V: the best value of the swept weight in the paper and in ours."""
    sym = {"alpha": "α", "beta": "β"}.get(parameter, parameter)
    parts = []
    for dataset in long.dataset.drop_duplicates():
        part = long[(long.dataset == dataset) & (long.metric == metric)].set_index("label")
        pb, ob = _best(part.paper), _best(part.ours)
        line = (f"**{ours_label(dataset)}**: the paper's best {sym} on "
                f"{dataset_name(base_of(dataset))} is {_join(pb) if pb else 'n/a'}")
        if part.ours.nunique() > 1:
            line += f"; ours is {_join(ob)} ({metric_name(metric)} {_fmt(part.ours.max())})."
        else:
            line += f"; ours gives every {sym} the same {metric_name(metric)} ({_fmt(part.ours.max())})."
        lo, hi = part.ours.min(), part.ours.max()
        se = part.ours_se.dropna()
        if not se.empty:
            line += (f" Our {metric_name(metric)} moves by {_fmt(hi - lo)} across the sweep, against "
                     f"a resampling standard error of about {_fmt(se.mean())} per run.")
        parts.append(line)
    return "\n\n".join(parts)


# --------------------------------------------------------------------------- Table III (TextSi)


def describe_text_similarity(long: pd.DataFrame) -> str:
    ts = long[long.metric == "text_similarity"]
    lines = []
    for dataset in ts.dataset.drop_duplicates():
        part = ts[ts.dataset == dataset].set_index("label")
        bits = [f"*{lab}* {_fmt(part.loc[lab, 'ours'])} (paper {_fmt(part.loc[lab, 'paper'])})"
                for lab in part.index]
        lines.append(f"**{ours_label(dataset)}** TextSi: " + "; ".join(bits) + ".")
    return "\n\n".join(lines)


# --------------------------------------------------------------------------- Table IX (SOTA)


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


def describe_sota(runs: Runs, variant: str = "full") -> str:
    table = paper_table("table9")
    lines = []
    for dataset in runs.datasets:
        res = runs.get(variant, dataset)
        if res is None:
            continue
        base = base_of(dataset)
        paper_ours = table.value("Micro-AU CLIP", base, "f1")
        others = [table.value(r["row"], base, "f1") for r in table.rows if not r.get("variant")]
        others = [v for v in others if v is not None]
        line = (f"**{ours_label(dataset)}**: our full model reaches F1 {_fmt(res.f1)}; the paper "
                f"reports {_fmt(paper_ours)} on {dataset_name(base)}.")
        if is_phantom(dataset):
            line += (" The other methods were never run on the phantom, so our number cannot be "
                     "ranked against theirs; it is listed to show what this implementation gives "
                     "on the data it was run on.")
        else:
            rank = 1 + sum(v > res.f1 for v in others)
            line += (f" Against the {len(others)} other methods with a {dataset_name(base)} score, "
                     f"it would rank {rank} (their numbers are copied from the paper, not re-run). "
                     + _source_sentence(dataset, res))
        lines.append(line)
    return "\n\n".join(lines)


# --------------------------------------------------------------------------- Table X (MER)


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


def _majority_scores(result) -> dict[str, float]:
    """MER scores of always answering the most frequent class, on the clips the run scored."""
    from .aus import EMOTION3_CLASSES
    from .train.metrics import mer_metrics

    mer = result.mer
    true = mer.emotion3[mer.emotion3.fillna("") != ""].astype(str).tolist()
    if not true:
        return {**{m: float("nan") for m in MER_METRICS}, "n": 0}
    majority = pd.Series(true).value_counts().index[0]
    scores = mer_metrics(true, [majority] * len(true), EMOTION3_CLASSES)
    scores["mer_acc"] = scores["acc"]
    return scores


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
            maj = _majority_scores(first)
            rows.append({"data": ours_label(dataset), "method": "guess: most frequent class",
                         **{metric_name(m): maj.get(m, float("nan")) for m in MER_METRICS},
                         "clips": maj.get("n")})
    return pd.DataFrame(rows).set_index(["data", "method"])


def mer_chance(result) -> dict[str, float]:
    """What guessing gives on the clips a run scored for MER: the accuracy of always predicting the
    most frequent class, and the expected UAR of random answers (1 / classes)."""
    mer = result.mer
    true = mer.emotion3[mer.emotion3.fillna("") != ""].astype(str)
    if true.empty:
        return {"majority_acc": float("nan"), "random_uar": float("nan"), "n": 0}
    counts = true.value_counts()
    k = len(counts)
    p = counts.iloc[0] / counts.sum()
    return {"majority_acc": float(p), "random_uar": 1.0 / k, "n": int(counts.sum())}


def describe_mer(runs: Runs, variants: tuple[str, str] = ("table10/wo_gda", "table10/full")) -> str:
    table = paper_table("table10")
    lines = []
    for dataset in runs.datasets:
        wo, full = (runs.get(v, dataset) for v in variants)
        if wo is None or full is None:
            continue
        base = base_of(dataset)
        p_wo, p_full = table.value(variants[0], base, "f1"), table.value(variants[1], base, "f1")
        o_wo, o_full = our_value(wo, "uf1"), our_value(full, "uf1")
        if not (np.isfinite(o_wo) and np.isfinite(o_full)):
            lines.append(f"**{ours_label(dataset)}**: no label-free MER scores (no text tower or no "
                         "3-class emotion labels).")
            continue
        chance = mer_chance(full)
        maj = _majority_scores(full)
        agree = (p_full > p_wo) == (o_full > o_wo) if None not in (p_wo, p_full) else None
        line = (f"**{ours_label(dataset)}** ({chance['n']} clips with a 3-class label): UF1 "
                f"{_fmt(o_wo)} without GDA and {_fmt(o_full)} with it; the paper reports F1 "
                f"{_fmt(p_wo)} and {_fmt(p_full)} on {dataset_name(base)}.")
        if agree is not None:
            line += (" The direction of the GDA effect " + ("matches" if agree else "differs from")
                     + " the paper's.")
        line += (f" For scale: always answering the most frequent class gives accuracy "
                 f"{_fmt(maj['acc'])} and UF1 {_fmt(maj['uf1'])}; answering at random gives UAR "
                 f"{_fmt(chance['random_uar'])} on average.")
        lines.append(line)
    return "\n\n".join(lines)


# --------------------------------------------------------------------------- figure data


def clip_ids(result) -> list[str]:
    """Clip ids in the order of the run's arrays (the order of ``load_train_data``)."""
    return result.predictions["id"].drop_duplicates().tolist()


def data_root_for(cfg) -> Path:
    """The folder a config reads: the phantom (written on first use) or ``cfg.data_root``."""
    if is_phantom(cfg.dataset):
        from .data.phantom import ensure_phantom

        return Path(cfg.data_root or ensure_phantom(cfg.base_dataset, seed=0, n_subjects=cfg.n_subjects,
                                                    progress=False))
    if not cfg.data_root:
        raise FileNotFoundError(f"dataset {cfg.dataset!r} needs data_root")
    return Path(cfg.data_root)


def load_dataset_samples(cfg):
    """The samples a run of ``cfg`` trains on (same subject subset as ``load_train_data``)."""
    from .data.loading import load_samples

    samples = load_samples(cfg.dataset, data_root_for(cfg))
    if cfg.n_subjects:
        keep = sorted({s.subject for s in samples})[: cfg.n_subjects]
        samples = [s for s in samples if s.subject in keep]
    return samples


def prep_settings(cfg):
    """The preparation settings of a run (magnification as configured, the rest default)."""
    import dataclasses as dc

    from .prep.pipeline import PrepSettings

    names = {f.name for f in dc.fields(PrepSettings)}
    kwargs = {"magnify": cfg.magnify}
    if cfg.magnify_checkpoint:
        for name in ("learned_checkpoint", "magnify_checkpoint"):
            if name in names:
                kwargs[name] = cfg.magnify_checkpoint
                break
    return PrepSettings(**kwargs)


def prepared_clips(cfg, ids: Iterable[str]) -> dict:
    """``prepare_clip`` for the given clip ids (read from the preparation cache when there)."""
    from .prep.pipeline import prepare_clip

    wanted = list(ids)
    by_id = {s.id: s for s in load_dataset_samples(cfg)}
    settings = prep_settings(cfg)
    return {i: prepare_clip(by_id[i], settings) for i in wanted}


def token_grid(cfg) -> tuple[int, int]:
    """The visual tower's patch grid (h, w) for the config's CLIP model (7 x 7 for ViT-B/32)."""
    import open_clip

    from .model import backbone

    backbone._register_configs()
    mc = open_clip.get_model_config(cfg.clip_model)
    if mc is None:
        raise ValueError(f"no open_clip config named {cfg.clip_model!r}")
    size = mc["vision_cfg"]["image_size"]
    patch = mc["vision_cfg"]["patch_size"]
    size = size if isinstance(size, (list, tuple)) else (size, size)
    patch = patch if isinstance(patch, (list, tuple)) else (patch, patch)
    return size[0] // patch[0], size[1] // patch[1]


def token_index(landmarks: np.ndarray, image_size: int, grid: tuple[int, int]) -> np.ndarray:
    """Eq. 1 for numpy landmarks [..., 2] via the model's own function."""
    import torch

    from .model.tokens import landmark_token_index

    return landmark_token_index(torch.as_tensor(np.asarray(landmarks, dtype=np.float32)),
                                (image_size, image_size), grid).numpy()


def example_aus(aus: tuple[int, ...], preferred: tuple[int, ...] = (1, 17)) -> list[int]:
    """The AUs a figure illustrates: the paper's examples when the data set has them, else the
    first and last of the data set's AUs."""
    chosen = [a for a in preferred if a in aus]
    if len(chosen) < len(preferred):
        for a in (aus[0], aus[-1]):
            if a not in chosen and len(chosen) < len(preferred):
                chosen.append(a)
    return chosen


def pick_clips_with(result, au: int, k: int = 2) -> list[int]:
    """Indices of ``k`` clips where ``au`` is labelled active, most confident first."""
    arr = result.arrays()
    n = list(result.meta["aus"]).index(au)
    pos = np.flatnonzero(arr["labels"][:, n] == 1)
    order = pos[np.argsort(-arr["probs"][pos, n], kind="stable")]
    return order[:k].tolist()


def pta_token_map(weights: np.ndarray, landmarks: np.ndarray, au: int, image_size: int,
                  grid: tuple[int, int]) -> np.ndarray:
    """PTA weights of one clip and AU summed per patch token: [h, w] (Eq. 1-2)."""
    from .aus import AU_LANDMARKS

    points = AU_LANDMARKS[au]
    tok = token_index(landmarks[list(points)], image_size, grid)
    out = np.zeros(grid[0] * grid[1])
    for j, t in enumerate(tok):
        out[t] += weights[j]
    return out.reshape(grid)


def dependency_by_active_au(result) -> tuple[pd.DataFrame, pd.DataFrame]:
    """GDA's dependency weights W_d averaged over the clips where each AU is active (rows), and
    the label co-occurrence P(column AU active | row AU active) for comparison (GDLoss pulls W_d
    towards the labels)."""
    arr = result.arrays()
    names = [f"AU{a}" for a in result.meta["aus"]]
    labels = arr["labels"].astype(float)
    dep = arr.get("dependency")
    rows_w, rows_c = [], []
    for n in range(len(names)):
        on = labels[:, n] == 1
        if on.sum() == 0:
            rows_w.append(np.full(len(names), np.nan))
            rows_c.append(np.full(len(names), np.nan))
            continue
        rows_w.append(dep[on].mean(0) if dep is not None else np.full(len(names), np.nan))
        rows_c.append(labels[on].mean(0))
    w = pd.DataFrame(rows_w, index=names, columns=names)
    c = pd.DataFrame(rows_c, index=names, columns=names)
    w.index.name = c.index.name = "clips with"
    return w, c


def describe_dependency(w: pd.DataFrame, c: pd.DataFrame, dataset: str) -> str:
    """How well the mean W_d rows follow the label co-occurrence rows (Pearson r over cells)."""
    a, b = w.to_numpy().ravel(), c.to_numpy().ravel()
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return f"**{ours_label(dataset)}**: the dependency weights are flat; no pattern to compare."
    r = float(np.corrcoef(a[ok], b[ok])[0, 1])
    diag = np.nanmean(np.diag(w.to_numpy()))
    off = np.nanmean(w.to_numpy()[~np.eye(len(w), dtype=bool)])
    return (f"**{ours_label(dataset)}**: across the AU × AU cells, the mean dependency weights "
            f"correlate with the label co-occurrence at r = {r:+.2f}; an active AU gives itself "
            f"{_fmt(diag)} of the weight on average, against {_fmt(off)} for each other AU.")


def pick_similarity_samples(result, au: int, pattern=(1, 0, 1, 0)) -> tuple[list[int], str]:
    """Four clips whose labels for ``au`` follow ``pattern`` (Fig. 6), from one LOSO fold if one
    fold has enough of both (their features then come from one model), else from all clips."""
    arr = result.arrays()
    n = list(result.meta["aus"]).index(au)
    y, fold = arr["labels"][:, n], arr["fold"]
    need_pos, need_neg = sum(pattern), len(pattern) - sum(pattern)

    def take(idx):
        pos = [i for i in idx if y[i] == 1][:need_pos]
        neg = [i for i in idx if y[i] == 0][:need_neg]
        if len(pos) < need_pos or len(neg) < need_neg:
            return None
        out, p, q = [], iter(pos), iter(neg)
        for v in pattern:
            out.append(next(p) if v == 1 else next(q))
        return out

    for f in np.unique(fold):
        chosen = take(np.flatnonzero(fold == f).tolist())
        if chosen is not None:
            return chosen, "one LOSO fold"
    chosen = take(list(range(len(y))))
    if chosen is not None:
        return chosen, "several LOSO folds"
    # too few clips of one class: keep the ones there are and fill up with the other class
    pos = [i for i in range(len(y)) if y[i] == 1]
    neg = [i for i in range(len(y)) if y[i] == 0]
    chosen = (pos[:need_pos] + neg)[: len(pattern)] if len(pos) < need_pos else (neg[:need_neg] + pos)[: len(pattern)]
    return chosen, f"fewer than {need_pos} active or {need_neg} inactive clips: labels differ from the pattern"


def cosine_matrix(x: np.ndarray) -> np.ndarray:
    x = x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
    return x @ x.T


def similarity_by_pair(result, au: int) -> dict[str, float]:
    """Mean cosine similarity of the AU's visual features for pairs of clips tested in the same
    fold: both active, both inactive, and one of each."""
    arr = result.arrays()
    n = list(result.meta["aus"]).index(au)
    feats, y, fold = arr["au_features"][:, n], arr["labels"][:, n], arr["fold"]
    sums = {"active–active": [], "inactive–inactive": [], "active–inactive": []}
    for f in np.unique(fold):
        idx = np.flatnonzero(fold == f)
        if len(idx) < 2:
            continue
        s = cosine_matrix(feats[idx])
        yy = y[idx]
        iu = np.triu_indices(len(idx), 1)
        for a, b, v in zip(*iu, s[iu]):
            key = ("active–active" if yy[a] and yy[b] else "inactive–inactive" if not yy[a] and not yy[b]
                   else "active–inactive")
            sums[key].append(v)
    return {k: (float(np.mean(v)) if v else float("nan")) for k, v in sums.items()}


def describe_pair_similarity(pairs: pd.DataFrame) -> str:
    """Markdown for Fig. 6: per data set and loss, how much more alike active clips are among
    themselves than with inactive ones (``pairs`` indexed by data, loss, AU)."""
    lines = []
    for (data, loss, au), row in pairs.iterrows():
        aa, ai = row.get("active–active"), row.get("active–inactive")
        if not (np.isfinite(aa) and np.isfinite(ai)):
            lines.append(f"*{loss}* on **{data}** ({au}): no fold has two active clips, so the "
                         "active–active similarity is undefined here.")
            continue
        lines.append(f"*{loss}* on **{data}** ({au}): active pairs {_fmt(aa)}, mixed pairs "
                     f"{_fmt(ai)}; active clips are {aa - ai:+.3f} more alike among themselves "
                     "than with inactive ones.")
    return "\n\n".join(lines)


def describe_separation(scores: pd.DataFrame, best: str, worst: str) -> str:
    """Markdown for Fig. 7: models ordered by silhouette per data set, next to the paper's reading
    (``best`` first, ``worst`` last). ``scores`` is indexed by data, model, AU."""
    lines = []
    for data, part in scores.groupby(level="data", sort=False):
        s = part["silhouette"].droplevel([lv for lv in part.index.names if lv != "model"])
        if not s.notna().all():
            lines.append(f"**{data}**: one AU class is empty, so there is no silhouette.")
            continue
        ranked = s.sort_values(ascending=False)
        order = " > ".join(f"*{m}* ({v:.3f})" for m, v in ranked.items())
        agree = ranked.index[0] == best and ranked.index[-1] == worst
        lines.append(f"**{data}**, silhouette from best to worst: {order}. The paper's reading puts "
                     f"*{best}* first and *{worst}* last; ours "
                     + ("agrees." if agree else "orders them differently."))
    return "\n\n".join(lines)


def tsne_embedding(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """2-D t-SNE of [M, E] features (cosine distance, perplexity adapted to small sets)."""
    from sklearn.manifold import TSNE

    m = len(features)
    perplexity = float(max(2.0, min(30.0, (m - 1) / 3)))
    return TSNE(n_components=2, perplexity=perplexity, metric="cosine", init="pca",
                random_state=seed).fit_transform(features.astype(np.float64))


def separation_scores(features: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """How well an AU's features separate active from inactive clips: silhouette (cosine) and the
    mean cosine similarity within each class and between the classes."""
    from sklearn.metrics import silhouette_score

    labels = np.asarray(labels).astype(int)
    out = {"silhouette": float("nan")}
    if len(np.unique(labels)) == 2 and len(labels) > 2:
        out["silhouette"] = float(silhouette_score(features, labels, metric="cosine"))
    s = cosine_matrix(features)
    off = ~np.eye(len(labels), dtype=bool)
    for name, mask in (("within active", np.outer(labels == 1, labels == 1)),
                       ("within inactive", np.outer(labels == 0, labels == 0)),
                       ("between", np.outer(labels == 1, labels == 0))):
        vals = s[mask & off]
        out[name] = float(vals.mean()) if vals.size else float("nan")
    return out


# --------------------------------------------------------------------------- Fig. 3 / data chapter


def table1_tokens(landmarks: np.ndarray, image_size: int, grid: tuple[int, int],
                  aus: Iterable[int] | None = None) -> pd.DataFrame:
    """Table I for one clip: each AU's landmarks and the patch tokens (row, column) Eq. 1 picks."""
    from .aus import AU_LANDMARKS

    rows = []
    for au in (aus or sorted(AU_LANDMARKS)):
        points = AU_LANDMARKS[au]
        tok = token_index(landmarks[list(points)], image_size, grid)
        cells = sorted({divmod(int(t), grid[1]) for t in tok})
        rows.append({"AU": f"AU{au}", "landmarks (Table I)": ", ".join(map(str, points)),
                     "tokens (row, col)": ", ".join(f"({r}, {c})" for r, c in cells),
                     "distinct tokens": len(cells)})
    return pd.DataFrame(rows).set_index("AU")


def sheet_stats(base: str) -> dict:
    """Label statistics of the public coding sheet of CASME II or SAMM (``me_label_stats.json``)."""
    from .data.phantom import label_stats

    return label_stats()[base]


def dataset_overview(datasets: Iterable[str], profile: str, data_root: dict | None = None) -> pd.DataFrame:
    """Clips, subjects and AUs: as the paper describes each data set (Sec. IV-A), as its public
    coding sheet has them, and as the data this book used (after the profile's subject subset)."""
    from .paper import load_paper_results

    described = load_paper_results()["datasets"]
    cols: dict[str, dict] = {}
    for dataset in datasets:
        base = base_of(dataset)
        name = dataset_name(base)
        if f"paper{SEP}{name}" not in cols:
            d = described[base]
            cols[f"paper{SEP}{name}"] = {"clips": d["clips"], "subjects": d["subjects"],
                                         "AUs used": ", ".join(f"AU{a}" for a in d["aus"])}
            st = sheet_stats(base)
            cols[f"coding sheet{SEP}{name}"] = {"clips": st["n_clips"], "subjects": st["n_subjects"],
                                                "AUs used": ", ".join(st["selected_aus"])}
        cfg = make_run_config(profile, "full", dataset, data_root)
        samples = load_dataset_samples(cfg)
        from .aus import DATASET_AUS

        cols[ours_label(dataset)] = {
            "clips": len(samples), "subjects": len({s.subject for s in samples}),
            "AUs used": ", ".join(f"AU{a}" for a in DATASET_AUS[base]),
        }
    return pd.DataFrame(cols)


def au_shares(datasets: Iterable[str], profile: str, data_root: dict | None = None) -> pd.DataFrame:
    """Share of clips coding each selected AU: public coding sheet vs our data (tidy frame)."""
    from .aus import DATASET_AUS

    rows = []
    for dataset in datasets:
        base = base_of(dataset)
        st = sheet_stats(base)
        cfg = make_run_config(profile, "full", dataset, data_root)
        samples = load_dataset_samples(cfg)
        for au in DATASET_AUS[base]:
            rows.append({"dataset": dataset, "au": f"AU{au}", "source": f"coding sheet{SEP}{dataset_name(base)}",
                         "share of clips": st["au_counts_all"].get(f"AU{au}", 0) / st["n_clips"]})
            rows.append({"dataset": dataset, "au": f"AU{au}", "source": ours_label(dataset),
                         "share of clips": sum(au in s.aus for s in samples) / max(1, len(samples))})
    return pd.DataFrame(rows)


def cooccurrence_counts(samples, aus: tuple[int, ...]) -> pd.DataFrame:
    names = [f"AU{a}" for a in aus]
    lab = np.array([s.labels(aus) for s in samples], dtype=int).reshape(-1, len(aus))
    return pd.DataFrame(lab.T @ lab, index=names, columns=names)


def emotion_counts(datasets: Iterable[str], profile: str, data_root: dict | None = None) -> pd.DataFrame:
    """Clips per three-class emotion (and those MER leaves out) for each of our data sets."""
    from .data.loading import summarize

    cols = {}
    for dataset in datasets:
        cfg = make_run_config(profile, "full", dataset, data_root)
        cols[ours_label(dataset)] = summarize(load_dataset_samples(cfg)).emotion3_counts
    df = pd.DataFrame(cols).fillna(0).astype(int)
    df.index = [("left out of MER" if i == "excluded" else i) for i in df.index]
    return df


def example_clip_id(samples, aus: tuple[int, ...]) -> str:
    """The first clip with the largest number of the data set's AUs active."""
    best = max(samples, key=lambda s: (sum(s.labels(aus)), -samples.index(s)))
    return best.id


def phantom_amplitudes(cfg) -> pd.DataFrame | None:
    """Ground-truth motion amplitude (pixels, before magnification) of each AU in the phantom."""
    if not is_phantom(cfg.dataset):
        return None
    from .data.phantom import read_truth

    keep = {s.id for s in load_dataset_samples(cfg)}
    rows = []
    for t in read_truth(data_root_for(cfg)):
        if f"{t['subject']}/{t['clip']}" not in keep:
            continue
        for au, amp in t.get("amplitude_px", {}).items():
            rows.append({"au": f"AU{au}", "amplitude_px": float(amp),
                         "selected": int(au) in t.get("selected_aus", [])})
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    out = df.groupby("au").amplitude_px.describe()[["count", "min", "50%", "max"]]
    out = out.rename(columns={"50%": "median"})
    out["count"] = out["count"].astype(int)
    order = sorted(out.index, key=lambda s: int(s[2:]))
    return out.loc[order]
