"""Negative controls for the mechanism checks: each check judged on a run and on a deliberately
broken copy of it (issue 22: a check that passes a broken model is a defect).

The ground-truth checks of :mod:`microau.mechanisms` ask whether PTA's weights lie on the AU's peak
tokens, whether GDA's W_d favours the active AUs, and whether AU features of same-label clips are
more alike. For each, a broken copy of a finished run's arrays removes exactly the structure the
check looks for and keeps everything else:

- ``pta``: each clip's PTA weights permuted across the AU's Table I landmarks (:func:`shuffled_pta`);
- ``gda_active``: each clip's W_d permuted across the AUs (:func:`shuffled_dependency`);
- ``similarity``: the AU features permuted across the clips of each LOSO fold, labels kept
  (:func:`shuffled_features`).

:func:`judge_run` gives the noise-gated verdict of every check on a run's arrays (the same
statistics as ``mechanisms.check_run``); :func:`broken_model_table` runs it on the real and the
broken arrays, so a page can show that each check passes the model and fails its broken copy.
Every number here is computed on phantom data.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import mechanisms as mech
from . import noise

CHECK_NAMES = {
    "pta": "PTA weights on the AU's peak tokens (vs uniform)",
    "gda_active": "GDA's W_d on the active AUs (vs chance)",
    "similarity": "same-label AU features more alike (vs different-label)",
}
BREAKS = {
    "pta": "PTA weights shuffled across the AU's landmarks",
    "gda_active": "W_d shuffled across AUs",
    "similarity": "AU features shuffled across clips of a fold",
}


def shuffled_pta(token_weights: np.ndarray, valid: np.ndarray, seed: int = 0) -> np.ndarray:
    """token_weights [M, N, L] with each (clip, AU)'s weights on its valid landmarks permuted."""
    rng = np.random.default_rng(seed)
    out = np.array(token_weights, copy=True)
    for n in range(out.shape[1]):
        cols = np.flatnonzero(valid[n])
        for i in range(out.shape[0]):
            out[i, n, cols] = out[i, n, rng.permutation(cols)]
    return out


def shuffled_dependency(dependency: np.ndarray, seed: int = 0) -> np.ndarray:
    """W_d [M, N] with each clip's weights permuted across the AUs."""
    rng = np.random.default_rng(seed)
    return np.stack([row[rng.permutation(len(row))] for row in np.asarray(dependency)])


def shuffled_features(au_features: np.ndarray, fold: np.ndarray, seed: int = 0) -> np.ndarray:
    """AU features [M, N, E] permuted across the clips of each fold (labels stay with the clips)."""
    rng = np.random.default_rng(seed)
    out = np.array(au_features, copy=True)
    for f in np.unique(fold):
        rows = np.flatnonzero(fold == f)
        out[rows] = au_features[rows[rng.permutation(len(rows))]]
    return out


def judge_arrays(arr: dict, truth: mech.RunGroundTruth, spreads: dict | None = None, n_boot: int = 500,
                 seed: int = 0) -> dict[str, noise.Verdict]:
    """The noise-gated verdict of each check that applies to a run's arrays (keys of CHECK_NAMES)."""
    spreads = spreads or {}
    labels = arr["labels"]
    out = {}
    if "token_weights" in arr:
        index, valid = mech.region_tokens(truth.landmarks, truth.aus, truth.image_size, truth.grid)
        share = mech.pta_moving_share(arr["token_weights"], index, valid, truth.peak, labels, informative_only=True)
        out["pta"] = _clip_verdict(share.clip_excess(), truth.subjects, spreads.get("pta"), n_boot, seed)
    if "dependency" in arr:
        mass, chance = mech.dependency_on_active(arr["dependency"], labels)
        out["gda_active"] = _clip_verdict(mass - chance, truth.subjects, spreads.get("gda_active"), n_boot, seed)
    value, low, high = mech.separation_with_noise(arr["au_features"], labels, arr["fold"], n_boot=n_boot, seed=seed)
    out["similarity"] = noise.verdict(value, (low, high), spreads.get("similarity"))
    return out


def _clip_verdict(per_clip, subjects, spread, n_boot, seed) -> noise.Verdict:
    per_clip = np.asarray(per_clip, float)
    value, low, high = noise.subject_bootstrap(
        subjects, lambda idx: float(np.nanmean(per_clip[idx])) if np.isfinite(per_clip[idx]).any() else float("nan"),
        n_boot=n_boot, seed=seed)
    return noise.verdict(value, (low, high), spread)


def broken_arrays(arr: dict, truth: mech.RunGroundTruth, seed: int = 0) -> dict[str, dict]:
    """Check name -> a copy of ``arr`` broken for that check (see the module docstring)."""
    out = {}
    if "token_weights" in arr:
        _, valid = mech.region_tokens(truth.landmarks, truth.aus, truth.image_size, truth.grid)
        out["pta"] = {**arr, "token_weights": shuffled_pta(arr["token_weights"], valid, seed)}
    if "dependency" in arr:
        out["gda_active"] = {**arr, "dependency": shuffled_dependency(arr["dependency"], seed)}
    out["similarity"] = {**arr, "au_features": shuffled_features(arr["au_features"], np.asarray(arr["fold"]), seed)}
    return out


@dataclass(frozen=True)
class ControlRow:
    check: str
    model: noise.Verdict
    broken: noise.Verdict

    @property
    def caught(self) -> bool:
        """The check does not pass the broken copy (whatever it says of the model)."""
        return self.broken.direction <= 0

    @property
    def discriminates(self) -> bool:
        """The check passes the model and not its broken copy."""
        return self.model.direction > 0 and self.caught


def broken_model_rows(result, truth: mech.RunGroundTruth, spreads: dict | None = None, n_boot: int = 500,
                      seed: int = 0) -> list[ControlRow]:
    """Each check on a finished run and on its broken copy, judged with the same noise."""
    arr = result.arrays()
    real = judge_arrays(arr, truth, spreads, n_boot, seed)
    rows = []
    for name, broken in broken_arrays(arr, truth, seed).items():
        rows.append(ControlRow(name, real[name], judge_arrays(broken, truth, spreads, n_boot, seed)[name]))
    return rows


def broken_model_table(rows: list[ControlRow], dataset_label: str) -> pd.DataFrame:
    """One line per check: its value on the model and on the broken copy, each verdict, and
    whether the check caught the broken copy."""
    def status(v: noise.Verdict) -> str:
        return {"a > b": "holds", "a < b": "reversed"}.get(v.status, "not judged" if v.status == "unjudged"
                                                              else "within noise")

    return pd.DataFrame([{
        "data": dataset_label, "check": CHECK_NAMES[r.check], "broken copy": BREAKS[r.check],
        "model": r.model.difference, "model verdict": status(r.model),
        "broken": r.broken.difference, "broken verdict": status(r.broken),
        "caught": "yes" if r.caught else "NO",
    } for r in rows])
