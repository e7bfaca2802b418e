"""Computed sentences: the numbers of a table or figure put into words, never typed."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..data.registry import base_dataset, is_phantom
from ..paper import dataset_name, metric_name, paper_table
from .labels import ours_label, paper_label
from .statistics import majority_scores, mer_chance, pairwise_agreement
from .tables import our_value

if TYPE_CHECKING:  # pragma: no cover
    from ..runs import Runs


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
                f"{dataset_name(base_dataset(dataset))} is {_join(pb) if pb else 'n/a'}")
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


def describe_text_similarity(long: pd.DataFrame) -> str:
    ts = long[long.metric == "text_similarity"]
    lines = []
    for dataset in ts.dataset.drop_duplicates():
        part = ts[ts.dataset == dataset].set_index("label")
        bits = [f"*{lab}* {_fmt(part.loc[lab, 'ours'])} (paper {_fmt(part.loc[lab, 'paper'])})"
                for lab in part.index]
        lines.append(f"**{ours_label(dataset)}** TextSi: " + "; ".join(bits) + ".")
    return "\n\n".join(lines)


def describe_sota(runs: Runs, variant: str = "full") -> str:
    table = paper_table("table9")
    lines = []
    for dataset in runs.datasets:
        res = runs.get(variant, dataset)
        if res is None:
            continue
        base = base_dataset(dataset)
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


def describe_mer(runs: Runs, variants: tuple[str, str] = ("table10/wo_gda", "table10/full")) -> str:
    table = paper_table("table10")
    lines = []
    for dataset in runs.datasets:
        wo, full = (runs.get(v, dataset) for v in variants)
        if wo is None or full is None:
            continue
        base = base_dataset(dataset)
        p_wo, p_full = table.value(variants[0], base, "f1"), table.value(variants[1], base, "f1")
        o_wo, o_full = our_value(wo, "uf1"), our_value(full, "uf1")
        if not (np.isfinite(o_wo) and np.isfinite(o_full)):
            lines.append(f"**{ours_label(dataset)}**: no label-free MER scores (no text tower or no "
                         "3-class emotion labels).")
            continue
        chance = mer_chance(full)
        maj = majority_scores(full)
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
