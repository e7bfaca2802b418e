"""Computed sentences: the numbers of a table or figure put into words, never typed."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..data.registry import base_dataset, is_phantom
from ..paper import dataset_name, metric_name, paper_table
from .labels import ours_label, paper_label
from .statistics import majority_scores, mer_chance
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


def describe_comparison(long: pd.DataFrame, runs: Runs, metric: str = "f1",
                        verdicts: pd.DataFrame | None = None) -> str:
    """Markdown: for each of our data sets, the paper's best row, then each of our rows against the
    table's reference row, stated as a direction only when the difference is outside both the
    paired subject-bootstrap interval and the measured seed band (``microau.noise``), with
    whether it agrees with the paper's difference. ``verdicts``: the table's
    :func:`~microau.report.verdicts.row_verdicts` when already computed."""
    from .verdicts import describe_verdicts, row_verdicts

    parts = []
    table_id = long["table"].iloc[0] if "table" in long and not long.empty else None
    for dataset in long.dataset.drop_duplicates():
        part = long[(long.dataset == dataset) & (long.metric == metric)].set_index("label")
        if part.empty:
            continue
        name = metric_name(metric)
        pb = _best(part.paper)
        text = [f"**{ours_label(dataset)}** against **{paper_label(dataset)}**."]
        if pb:
            text.append(f"The paper's best row by {name} is {_join(pb)} ({_fmt(part.paper.max())}).")
        if part.ours.nunique() <= 1:
            text.append(f"Ours gives every row the same {name} ({_fmt(part.ours.max())}), so it orders nothing.")
        result = runs.get(part.variant.iloc[0], dataset)
        if result is not None:
            text.append(_source_sentence(dataset, result))
        parts.append(" ".join(text))
    if table_id and metric == "f1":
        verdicts = verdicts if verdicts is not None else row_verdicts(table_id, runs)
        if not verdicts.empty:
            parts.append("Each row against the reference row, with the measured noise:\n\n"
                         + describe_verdicts(verdicts))
    return "\n\n".join(parts)


def describe_sweep(long: pd.DataFrame, parameter: str, metric: str = "f1") -> str:
    """Markdown for Tables IV/V: the paper's best value of the swept weight; ours is read from the
    noise-gated verdicts of :func:`describe_comparison`, never from the highest number alone."""
    sym = {"alpha": "α", "beta": "β"}.get(parameter, parameter)
    parts = []
    for dataset in long.dataset.drop_duplicates():
        part = long[(long.dataset == dataset) & (long.metric == metric)].set_index("label")
        pb = _best(part.paper)
        parts.append(f"**{ours_label(dataset)}**: the paper's best {sym} on "
                     f"{dataset_name(base_dataset(dataset))} is {_join(pb) if pb else 'n/a'}; our "
                     f"{metric_name(metric)} moves by {_fmt(part.ours.max() - part.ours.min())} across "
                     f"the sweep. Whether any value differs from the paper's choice beyond noise is "
                     "stated row by row below.")
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
                     f"it would rank {rank} (their numbers are copied from the paper, not re-run, and "
                     "no paper gives the noise of its score, so this rank is not noise-gated). "
                     + _source_sentence(dataset, res))
        lines.append(line)
    return "\n\n".join(lines)


def describe_mer(runs: Runs, variants: tuple[str, str] = ("table10/wo_gda", "table10/full")) -> str:
    from .. import noise
    from .verdicts import mer_spreads, mer_verdict

    table = paper_table("table10")
    spreads = mer_spreads(runs)
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
        line = (f"**{ours_label(dataset)}** ({chance['n']} clips with a 3-class label): UF1 "
                f"{_fmt(o_wo)} without GDA and {_fmt(o_full)} with it; the paper reports F1 "
                f"{_fmt(p_wo)} and {_fmt(p_full)} on {dataset_name(base)}.")
        line += " " + noise.agreement_with_paper("*with GDA*", "*without GDA*", p_full, p_wo,
                                                 mer_verdict(full, wo, spreads.get(dataset)), metric="UF1")
        line += (f" For scale: always answering the most frequent class gives accuracy "
                 f"{_fmt(maj['acc'])} and UF1 {_fmt(maj['uf1'])}; answering at random gives UAR "
                 f"{_fmt(chance['random_uar'])} on average.")
        lines.append(line)
    return "\n\n".join(lines)


def seed_runs_like(seed_runs, result, dataset: str) -> dict[int, object]:
    """Draw key (``noise.draw_key``: backbone draw and seed) -> the seed-spread run that computes what ``result`` computes but for its seed. Runs
    are matched by computation (run key), not by variant name: the seed page trains 'full', which
    is also Table VIII's MiAUCL row and Table II's LSI + GSD row."""
    from ..train.loso import config_key

    if not seed_runs:
        return {}
    out = {}
    for (_, d, seed), r in seed_runs.items():
        same = r.config.replace(seed=result.config.seed, backbone_seed=result.config.backbone_seed)
        if d == dataset and config_key(same) == config_key(result.config):
            out[seed] = r
    return out


def describe_mechanisms(runs: Runs, variant: str, checks: tuple[str, ...],
                        names: dict[str, str] | None = None) -> str:
    """The paper's qualitative claims checked against the phantom's ground truth for one variant's
    runs (``microau.mechanisms.check_run``), noise-gated, one paragraph per data set. Licensed
    data have no ground truth; their paragraph says so."""
    from .. import mechanisms
    from .verdicts import seed_runs_of

    seed_runs = seed_runs_of(runs)
    lines = []
    for dataset in runs.datasets:
        result = runs.get(variant, dataset)
        if result is None:
            continue
        if not is_phantom(dataset):
            lines.append(f"**{ours_label(dataset)}**: real data carry no ground truth of where each AU "
                         "moves, so this check runs on the phantom only.")
            continue
        truth = mechanisms.ground_truth_for_run(result)
        seeded = list(seed_runs_like(seed_runs, result, dataset).values())
        found = mechanisms.check_run(result, truth, mechanisms.seed_spreads(seeded, truth))
        said = [found[k] for k in checks if k in found]
        label = (names or {}).get(variant, variant)
        lines.append(f"**{ours_label(dataset)}**, *{label}*: " + " ".join(said))
    return "\n\n".join(lines)


def describe_separation_gated(runs: Runs, pairs: list[tuple[str, str]], names: dict[str, str]) -> str:
    """Fig. 7: for each (a, b) pair of variants, whether a separates active from inactive clips more
    than b (within- minus between-label similarity, paired over LOSO folds), noise-gated. The seed
    spread is that of the difference, over the seeds both variants were trained with on the seed
    page (``seed_runs_like``); its band is the same 2 * sqrt(2) * std as every other check's
    (``noise.seed_band``), which is wider than a per-seed difference needs: conservative."""
    from .. import draws, mechanisms, noise
    from .verdicts import seed_runs_of

    def triple(result):
        x = result.arrays()
        return x["au_features"], x["labels"], x["fold"]

    seed_runs = seed_runs_of(runs)
    lines = []
    for dataset in runs.datasets:
        bits = []
        for a, b in pairs:
            ra, rb = runs.get(a, dataset), runs.get(b, dataset)
            if ra is None or rb is None:
                continue
            sa, sb = seed_runs_like(seed_runs, ra, dataset), seed_runs_like(seed_runs, rb, dataset)
            common = sorted(set(sa) & set(sb))
            spread = None
            if len(common) >= 2:
                diffs = [mechanisms.separation_score(*triple(sa[k])) - mechanisms.separation_score(*triple(sb[k]))
                         for k in common]
                spread = draws.spread_of_draws(dict(zip(common, diffs)))
            bits.append(mechanisms.describe_separation_pair(
                f"*{names.get(a, a)}*", f"*{names.get(b, b)}*", triple(ra), triple(rb), spread=spread))
        if bits:
            lines.append(f"**{ours_label(dataset)}**: " + " ".join(bits))
    return "\n\n".join(lines)


def describe_shared_runs(runs: Runs, labels: dict[str, str] | None = None) -> str:
    """Rows of a page that are one computation: their variants resolve to the same settings, so
    they share one run directory (the run key hashes every setting that enters the computation)
    and were trained once. Says which rows, on which data, and why. Empty when no two rows share."""
    from ..config import VARIANTS

    labels = labels or {}
    lines = []
    for dataset in runs.datasets:
        by_dir: dict[str, list[str]] = {}
        for key, r in runs.items():
            if len(key) == 2 and key[1] == dataset:
                by_dir.setdefault(str(r.run_dir), []).append(key[0])
        for variants in by_dir.values():
            if len(variants) < 2:
                continue
            names = [f"*{labels.get(v, v)}*" for v in variants]
            settings = {v: VARIANTS.get(v, {}) for v in variants}
            why = "; ".join(f"{labels.get(v, v)}: " + (", ".join(f"{k}={val}" for k, val in sorted(st.items()))
                                                        or "the full model's settings") for v, st in settings.items())
            lines.append(f"**{ours_label(dataset)}**: {' and '.join(names)} are one computation, trained once "
                         f"(their settings resolve to the same values, so their run key is the same: {why}).")
    return "\n\n".join(lines)
