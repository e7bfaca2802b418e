"""Evaluation across data sets: LOSO over a composite of sets, training on some sets and testing on
another, and leaving one data set out; F1 per set and pooled, with subject-bootstrap intervals,
and the model against the region baseline per set with the paired bootstrap of :mod:`microau.noise`.

A cross-set run is an ordinary LOSO run of the run store (``microau.train.loso``: keyed by config
and data digest, checksummed outputs) on a composite data set (``casme2+samm``, subjects
``casme2:sub01``), whose ``holdout`` sets the folds: 'subject' (composite LOSO), 'dataset' (one fold
per set: train on the others), or one part's name (train on the others, test on it). Every fold
trains on AU-coded clips only and scores the AUs every AU-coded part scores
(:func:`microau.data.registry.evaluated_aus`); an emotion-only set (SMIC) is only tested, for the
label-free emotion recognition of Eq. 13.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Iterable

import numpy as np
import pandas as pd

from . import noise
from .data import registry

MODES = ("loso", "train-test", "leave-one-dataset-out")


@dataclass(frozen=True)
class CrossPlan:
    """One cross-set evaluation: its label, the composite it reads and its folds."""

    label: str
    dataset: str
    holdout: str  # 'subject' | 'dataset' | a part's name


def plan(mode: str, sets: Iterable[str], test: str | None = None) -> CrossPlan:
    """The evaluation ``mode`` asks for over ``sets`` (and the ``test`` set of 'train-test')."""
    sets = [registry.check(s) for s in sets]
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if mode == "train-test":
        if not test:
            raise ValueError("train-test needs a test set (--test NAME)")
        if test in sets:
            raise ValueError(f"{test} is both trained and tested on; test on a set that is not trained on")
        return CrossPlan(f"{'+'.join(sets)} -> {test}", "+".join([*sets, registry.check(test)]), test)
    if len(sets) < 2:
        raise ValueError(f"{mode} needs at least two data sets (e.g. casme2 samm), got {sets}")
    dataset = "+".join(sets)
    if not any(registry.is_au_coded(s) for s in sets):
        raise ValueError(f"{dataset}: no part codes action units; train on an AU-coded set")
    if mode == "loso":
        return CrossPlan(f"LOSO over {dataset}", dataset, "subject")
    return CrossPlan(f"each of {dataset} left out", dataset, "dataset")


def plan_config(p: CrossPlan, profile: str, variant: str = "full", data_root: dict | None = None,
                device: str = "cpu", **overrides):
    """The run config of a plan (``overrides``: Config fields, as for ``microau loso``)."""
    from .runs import make_run_config

    return make_run_config(profile, variant, p.dataset, data_root, device, holdout=p.holdout, **overrides)


def set_of(subjects: pd.Series, dataset: str) -> pd.Series:
    """The data set of each (prefixed) subject of a run's table; the run's own set when unprefixed."""
    prefixed = subjects.astype(str).str.contains(registry.SUBJECT_SEP, regex=False)
    return subjects.astype(str).map(registry.part_of_subject).where(prefixed, dataset)


def _f1_with_interval(pred: pd.DataFrame, n_boot: int, level: float, seed: int) -> tuple[float, float, float, int]:
    subjects, _, counts = noise.f1_counts_by_subject(pred)
    value = float(noise.mean_f1_from_counts(counts.sum(0)))
    weights = noise.subject_resamples(len(subjects), n_boot, seed)
    boot = noise.mean_f1_from_counts(np.einsum("bs,snk->bnk", weights, counts))
    low, high = noise.percentile_interval(boot, level)
    return value, low, high, len(subjects)


def scores_by_set(result, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Mean F1 (over the run's AUs, on the concatenated predictions) per tested set and pooled,
    each with its subject-bootstrap interval; label-free MER UF1 per set from the same run."""
    dataset = result.config.dataset
    pred = result.predictions.assign(set=set_of(result.predictions.subject, dataset))
    mer = result.mer.assign(set=set_of(result.mer.subject, dataset)) if len(result.mer) else result.mer
    rows = []
    tested = list(dict.fromkeys([*pred.set.tolist(), *(mer.set.tolist() if len(mer) else [])]))
    for name in [*tested, "pooled"] if len(tested) > 1 else tested:
        part = pred if name == "pooled" else pred[pred.set == name]
        tested_clips = mer if name == "pooled" or not len(mer) else mer[mer.set == name]
        row = {"set": name, "clips": int((tested_clips if len(tested_clips) else part).id.nunique())}
        if len(part):
            f1, low, high, n = _f1_with_interval(part, n_boot, level, seed)
            row.update(f1=f1, low=low, high=high, subjects=n)
        else:
            row.update(f1=np.nan, low=np.nan, high=np.nan, subjects=0)
        row["mer_uf1"] = _mer_uf1(mer if name == "pooled" else mer[mer.set == name]) if len(mer) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _mer_uf1(mer: pd.DataFrame) -> float:
    from .aus import EMOTION3_CLASSES
    from .train.metrics import mer_metrics

    if "pred" not in mer:
        return float("nan")
    keep = mer.emotion3.fillna("") != ""
    return mer_metrics(mer.emotion3[keep].tolist(), mer.pred[keep].tolist(), EMOTION3_CLASSES)["uf1"]


def baseline_run(cfg, data=None, progress: bool = False):
    """The region-flow baseline on the clips and folds of a run of ``cfg``, as an object with the
    run's ``predictions`` table and ``config`` (computed, not stored: it takes seconds)."""
    from .baseline import run_baseline_loso
    from .train.data import load_train_data

    data = data or load_train_data(cfg, progress=progress)
    result = run_baseline_loso(data)
    scored = data.scored()
    fold_of = {s: k for k, s in enumerate(data.fold_subjects)}
    groups = data.groups if data.groups is not None else data.subjects
    labels = data.labels.cpu().numpy()
    rows = [(data.ids[i], data.subjects[i], fold_of.get(groups[i], -1), f"AU{a}", int(labels[i, n]),
             float(result.predictions[i, n]), int(result.predictions[i, n]))
            for i in np.flatnonzero(scored) for n, a in enumerate(data.aus)]
    predictions = pd.DataFrame(rows, columns=["id", "subject", "fold", "au", "label", "prob", "pred"])
    return SimpleNamespace(config=cfg, predictions=predictions, metrics=result.metrics, f1=result.f1,
                           mer=pd.DataFrame(columns=["id", "subject", "emotion3"]))


def paired_by_set(run_a, run_b, names: tuple[str, str] = ("model", "baseline"), n_boot: int = 2000,
                  seed: int = 0) -> pd.DataFrame:
    """Per tested set and pooled: F1 of a and b on the same clips, a - b with its paired
    subject-bootstrap interval, and a sentence that names a direction only outside noise (no seed
    spread is measured here, so the interval alone decides, and the sentence says so)."""
    dataset = run_a.config.dataset
    pa = run_a.predictions.assign(set=set_of(run_a.predictions.subject, dataset))
    pb = run_b.predictions.assign(set=set_of(run_b.predictions.subject, dataset))
    sets = pa.set.drop_duplicates().tolist()
    rows = []
    for name in [*sets, "pooled"] if len(sets) > 1 else sets:
        sa, sb = (pa, pb) if name == "pooled" else (pa[pa.set == name], pb[pb.set == name])
        d = noise.paired_bootstrap_f1(SimpleNamespace(predictions=sa.drop(columns="set")),
                                      SimpleNamespace(predictions=sb.drop(columns="set")),
                                      n_boot=n_boot, seed=seed, names=names)
        v = noise.verdict(d.difference, d.interval, None, require_seed_spread=False)
        rows.append({"set": name, names[0]: d.a, names[1]: d.b, "difference": d.difference, "low": d.low,
                     "high": d.high, "subjects": d.n_subjects,
                     "verdict": f"On {name}: " + noise.direction_sentence(names[0], names[1], v)})
    return pd.DataFrame(rows)


def format_scores(table: pd.DataFrame, level: float = 0.95) -> str:
    """The per-set table as ``microau loso`` prints it."""
    lines = [f"{'set':28s} {'clips':>6s} {'subj':>5s} {'mean F1':>8s}  {int(level * 100)}% subject bootstrap"
             f"   label-free MER UF1"]
    for r in table.itertuples():
        f1 = "   n/a  " if np.isnan(r.f1) else f"{r.f1:8.3f}"
        ci = "(no AU-coded clips tested)" if np.isnan(r.f1) else f"{r.low:.3f} .. {r.high:.3f}"
        mer = "n/a" if np.isnan(r.mer_uf1) else f"{r.mer_uf1:.3f}"
        lines.append(f"{r.set:28s} {r.clips:6d} {r.subjects:5d} {f1}  {ci:26s} {mer}")
    return "\n".join(lines)


def load_cross_runs(plans: Iterable[CrossPlan], variant: str = "full", profile: str = "quick",
                    data_root: dict | None = None, device: str = "cpu", runs=None, train_missing: bool = True,
                    overrides: dict | None = None, progress: bool = False) -> dict:
    """label -> finished run of each plan, trained first when ``train_missing`` (as
    :func:`microau.runs.load_runs` does for the paper's pages)."""
    from .runs import ensure_runs, read_run

    over = {k: v for k, v in (overrides or {}).items() if k != "seeds"}
    configs = {p.label: plan_config(p, profile, variant, data_root, device, **over) for p in plans}
    if train_missing:
        ensure_runs(list(configs.values()), runs, jobs=1, progress=progress)
    return {label: read_run(cfg, runs) for label, cfg in configs.items()}


def against_baseline(runs: dict, n_boot: int = 2000) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """For each cross-set run (label -> run): the per-set scores of the model and of the region
    baseline on the same clips and folds (one long table, column 'method'), and the paired
    comparison per set (label -> :func:`paired_by_set`)."""
    tables, paired = [], {}
    for label, run in runs.items():
        base = baseline_run(run.config)
        tables += [scores_by_set(run).assign(method="model", evaluation=label),
                   scores_by_set(base).assign(method="region baseline", evaluation=label)]
        paired[label] = paired_by_set(run, base, ("model", "region baseline"), n_boot=n_boot)
    return pd.concat(tables, ignore_index=True), paired


def samples_by_set(datasets: Iterable[str], profile: str = "quick", data_root: dict | None = None,
                   **overrides) -> dict:
    """name -> the samples a run of ``profile`` reads of each set (after its subject subset)."""
    from .runs import make_run_config

    over = {k: v for k, v in overrides.items() if k != "seeds"}
    return {name: registry.samples_for(make_run_config(profile, "full", name, data_root, **over))
            for name in datasets}
