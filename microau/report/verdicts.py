"""Differences between rows, gated by the measured noise: the seed spread of the seed-spread page
and a paired subject-level bootstrap (``microau.noise``). Every sentence of the book that states a
direction, an ordering or an agreement with the paper is built here or in ``microau.noise``."""
from __future__ import annotations

import math

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .. import draws, noise
from ..book.manifest import SEED_PAGE
from ..paper import paper_table
from .labels import ours_label
from .tables import table_rows

if TYPE_CHECKING:  # pragma: no cover
    from ..runs import Runs

REFERENCE_VARIANT = "full"  # whose seed spread sets the band for every difference


def seed_runs_of(runs: "Runs") -> "Runs":
    """The seed-spread page's runs that exist in the runs directory ``runs`` was read from, keyed
    (variant, dataset, seed); none are trained here."""
    from ..runs import load_seed_runs

    ctx = runs.context or {}
    return load_seed_runs(SEED_PAGE, runs.datasets, runs.profile, ctx.get("data_root"),
                          ctx.get("device", "cpu"), ctx.get("runs"), overrides=ctx.get("overrides"),
                          only_finished=True)


def seed_spreads(runs: "Runs") -> dict[str, "noise.SeedSpread | None"]:
    """Per data set, the seed spread of the full model's mean F1, from the seed-spread page's runs
    that exist in the runs directory (None where fewer than two seeds were trained)."""
    seeded = seed_runs_of(runs)
    return {d: _spread(seeded, REFERENCE_VARIANT, d) for d in runs.datasets}


def _spread(runs: "Runs", variant: str, dataset: str):
    """The spread of ``variant``'s mean F1 on ``dataset`` over its seed runs (keys are draw keys:
    over backbone draws x seeds where the page trained several draws, ``noise.spread_of_draws``)."""
    by_draw = {k[2]: r for k, r in runs.items() if k[0] == variant and k[1] == dataset}
    if len(by_draw) < 2:
        return None
    return draws.spread_of_draws({k: r.f1 for k, r in by_draw.items()})


def seed_spread_table(runs: "Runs") -> pd.DataFrame:
    """Mean, standard deviation, min and max of mean F1 over seeds, per configuration."""
    rows = []
    keys = sorted({(k[0], k[1]) for k in runs.results})
    for variant, dataset in keys:
        sp = _spread(runs, variant, dataset)
        if sp is None:
            continue
        rows.append({"data": ours_label(dataset), "variant": variant, "runs": sp.n,
                     "backbones × seeds": sp.describe(), "mean F1": sp.mean, "sd": sp.std,
                     "sd between backbones": math.sqrt(sp.backbone_var) if np.isfinite(sp.backbone_var) else np.nan,
                     "sd between seeds": math.sqrt(sp.seed_var) if np.isfinite(sp.seed_var) else np.nan,
                     "min": sp.min, "max": sp.max})
    return pd.DataFrame(rows).set_index(["data", "variant"]) if rows else pd.DataFrame()


def reference_rows(table_id: str) -> dict[str, str]:
    """Base data set -> the label of the table's reference row on it (:func:`_reference_variant`)."""
    t = paper_table(table_id)
    labels = {r["variant"]: r["label"] for r in t.rows if r.get("variant")}
    return {d: labels[_reference_variant(table_id, d)] for d in t.datasets}


def _reference_variant(table_id: str, dataset: str) -> str:
    """The table's reference row: the one the paper scores best on the data set (its method)."""
    t = paper_table(table_id)
    scored = [(t.value(r["row"], dataset, "f1"), r["variant"]) for r in t.rows if r.get("variant")]
    scored = [(v, var) for v, var in scored if v is not None]
    return max(scored)[1]


def row_verdicts(table_id: str, runs: "Runs", spreads: dict | None = None, variants=None) -> pd.DataFrame:
    """For every row of a table (and each data set), its mean-F1 difference from the reference row
    with the paired subject-bootstrap interval, the seed band and the verdict; the paper's
    difference next to it."""
    from ..data.registry import base_dataset

    t = paper_table(table_id)
    spreads = spreads if spreads is not None else seed_spreads(runs)
    rows = []
    for dataset in runs.datasets:
        base = base_dataset(dataset)
        ref = _reference_variant(table_id, base)
        ref_run = runs.get(ref, dataset)
        if ref_run is None:
            continue
        labels = {r["variant"]: r["label"] for r in table_rows(table_id) if r.get("variant")}
        for variant in variants or list(labels):
            run = runs.get(variant, dataset)
            if variant == ref or run is None:
                continue
            diff, v = noise.paired_verdict(run, ref_run, spreads.get(dataset),
                                           names=(labels.get(variant, variant), labels.get(ref, ref)))
            paper_rows = {r["variant"] for r in t.rows if r.get("variant")}
            pr = t.value(ref, base, "f1")
            pv = t.value(variant, base, "f1") if variant in paper_rows else None
            rows.append({
                "data": ours_label(dataset), "row": labels.get(variant, variant),
                "reference": labels.get(ref, ref), "ours: row − reference": diff.difference,
                "interval low": v.low, "interval high": v.high, "seed band ±": v.band,
                "verdict": _status_words(v.status),
                "paper: row − reference": (pv - pr) if None not in (pv, pr) else np.nan,
                "agreement": paper_agreement(v, pv, pr),
                "_verdict": v, "_variant": variant, "_ref": ref, "_paper_row": pv, "_paper_ref": pr,
            })
    return pd.DataFrame(rows)


AGREEMENTS = ("holds", "within noise", "reversed", "not judged")  # how a verdict meets the paper


def paper_agreement(v: "noise.Verdict", paper_a: float | None, paper_b: float | None) -> str | None:
    """How our difference a − b meets the paper's: 'holds' (our direction is the paper's, outside
    noise), 'reversed' (the opposite, outside noise), 'within noise', or 'not judged' (no seed
    spread measured). None where the paper orders nothing (a value missing, or a tie)."""
    if paper_a is None or paper_b is None or not np.isfinite([paper_a, paper_b]).all():
        return None
    paper_sign = int(np.sign(paper_a - paper_b))
    if paper_sign == 0:
        return None
    if v.status == "unjudged":
        return "not judged"
    if v.direction == 0:
        return "within noise"
    return "holds" if v.direction == paper_sign else "reversed"


def agreement_counts(verdicts: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Per data set (the 'data' column), how many rows hold, are within noise, reversed or not
    judged (:func:`paper_agreement`); rows the paper does not order are not counted."""
    out: dict[str, dict[str, int]] = {}
    if verdicts.empty:
        return out
    for data, part in verdicts.groupby("data", sort=False):
        found = [a for a in part["agreement"] if a]
        out[data] = {k: found.count(k) for k in AGREEMENTS if found.count(k)}
    return out


def counts_words(counts: dict[str, int]) -> str:
    """'2 hold, 1 within noise' from a count per agreement ('no row the paper orders' if empty)."""
    if not counts:
        return "no row the paper orders"
    verb = {"holds": ("holds", "hold")}
    return ", ".join(f"{n} {verb.get(k, (k, k))[n != 1]}" for k, n in counts.items())


def _status_words(status: str) -> str:
    return {"a > b": "row above reference", "a < b": "row below reference",
            "within noise": "within noise", "unjudged": "not judged (no seed spread)"}.get(status, status)


def shown(verdicts: pd.DataFrame) -> pd.DataFrame:
    """The verdict table as a page shows it (helper columns dropped)."""
    if verdicts.empty:
        return verdicts
    drop = [c for c in verdicts.columns if c.startswith("_") or c == "agreement"]
    return verdicts.drop(columns=drop).set_index(["data", "row"])


def describe_verdicts(verdicts: pd.DataFrame) -> str:
    """One computed sentence per row: our direction against the reference, gated by noise, and
    whether it agrees with the paper's."""
    lines = []
    for data, part in verdicts.groupby("data", sort=False):
        bits = []
        for _, r in part.iterrows():
            bits.append(noise.agreement_with_paper(f"*{r['row']}*", f"*{r['reference']}*", r["_paper_row"],
                                                   r["_paper_ref"], r["_verdict"]))
        lines.append(f"**{data}**: " + " ".join(bits))
    return "\n\n".join(lines)


def seed_gated_differences(runs: "Runs") -> pd.DataFrame:
    """Tables II and VIII rows against their reference, at the first seed, for the seed page."""
    first = min(runs.seeds) if runs.seeds else 1
    from ..runs import Runs

    base = Runs(results={(k[0], k[1]): r for k, r in runs.items() if k[2] == first},
                datasets=runs.datasets, profile=runs.profile, context=runs.context)
    spreads = {d: _spread(runs, REFERENCE_VARIANT, d) for d in runs.datasets}
    parts = [row_verdicts(t, base, spreads) for t in ("table2", "table8")]
    parts = [p for p in parts if not p.empty]
    return shown(pd.concat(parts)) if parts else pd.DataFrame()


def describe_seed_spread(runs: "Runs") -> str:
    """How large the run-to-run noise is, what it was measured over, and what it means for a
    difference between two rows."""
    lines = []
    for dataset in runs.datasets:
        sp = _spread(runs, REFERENCE_VARIANT, dataset)
        if sp is None:
            lines.append(f"**{ours_label(dataset)}**: fewer than two seeds of the full model; no spread.")
            continue
        band = noise.seed_band(sp)
        over = sp.describe()
        extra = ("" if sp.covers_backbones else " The band covers fine-tuning seeds on one backbone only "
                 "(this profile has no backbone draws).")
        lines.append(
            f"**{ours_label(dataset)}**: over {over} the full model's mean F1 has standard "
            f"deviation {sp.std:.3f} (range {sp.min:.3f} to {sp.max:.3f}); two single runs of "
            f"one configuration can therefore differ by up to about {band:.3f} (the noise band), "
            "and a difference between two rows smaller than that is within noise." + extra)
    return "\n\n".join(lines)


def noise_components_table(runs: "Runs") -> pd.DataFrame:
    """Per data set, the full model's mean-F1 variance split into backbone draws, fine-tuning
    seeds and subjects (the subject bootstrap of its draw-0 seed-1 run): each component's sd and
    its share of the total (``noise.noise_components``)."""
    rows = []
    for dataset in runs.datasets:
        sp = _spread(runs, REFERENCE_VARIANT, dataset)
        first = runs.get(REFERENCE_VARIANT, dataset, min(runs.seeds)) if runs.seeds else None
        if sp is None or first is None:
            continue
        comp = noise.noise_components(sp, noise.subject_sd_f1(first))
        shares = comp.shares()
        row = {"data": ours_label(dataset), "runs": sp.describe(), "mean F1": comp.mean}
        for name, var in (("backbone draw", comp.backbone_var), ("fine-tuning seed", comp.seed_var),
                          ("subjects (bootstrap)", comp.subject_var)):
            row[f"sd: {name}"] = math.sqrt(var) if np.isfinite(var) else np.nan
            row[f"share: {name}"] = shares[name]
        rows.append(row)
    return pd.DataFrame(rows).set_index("data") if rows else pd.DataFrame()


def describe_noise_components(runs: "Runs") -> str:
    """Which source of noise is largest, per data set, in computed words."""
    table = noise_components_table(runs)
    lines = []
    for data, row in table.iterrows():
        shares = {k.removeprefix("share: "): v for k, v in row.items() if k.startswith("share: ") and np.isfinite(v)}
        if not shares:
            continue
        order = sorted(shares, key=shares.get, reverse=True)
        said = ", ".join(f"{k} {100 * shares[k]:.0f} %" for k in order)
        lines.append(f"**{data}**: of the variance of the full model's mean F1 ({row['runs']}), "
                     f"{said}. The largest source is the {order[0]}.")
    return "\n\n".join(lines)


def _uf1(true: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(true, pred, average="macro", zero_division=0)) if len(true) else float("nan")


def mer_verdict(full, without, spread: "noise.SeedSpread | None") -> "noise.Verdict":
    """UF1 with GDA minus without (Eq. 13, label-free), with a subject-bootstrap interval over the
    clips that have a three-class label (the same resample for both runs) and the seed band."""
    a, b = full.mer, without.mer
    keep = (a.emotion3.fillna("") != "").to_numpy()
    true, pa = a.emotion3.to_numpy()[keep], a.pred.to_numpy()[keep]
    pb = b.set_index("id").loc[a.id[keep], "pred"].to_numpy()
    subjects = a.subject.astype(str).to_numpy()[keep]
    value, low, high = noise.subject_bootstrap(
        subjects, lambda idx: _uf1(true[idx], pa[idx]) - _uf1(true[idx], pb[idx]), n_boot=500)
    return noise.verdict(value, (low, high), spread)


def mer_spreads(runs: "Runs") -> dict[str, "noise.SeedSpread | None"]:
    """Per data set, the seed spread of the full model's label-free UF1 (seed-spread page)."""
    seeded = seed_runs_of(runs)
    out = {}
    for d in runs.datasets:
        by_draw = {k[2]: r.mer_metrics.get("uf1") for k, r in seeded.items()
                   if k[0] == REFERENCE_VARIANT and k[1] == d}
        vals = {k: v for k, v in by_draw.items() if v is not None and np.isfinite(v)}
        out[d] = draws.spread_of_draws(vals) if len(vals) >= 2 else None
    return out
