"""The data chapter's question "is the phantom learned?": the full model against the region-flow
baseline (``microau.baseline``) on the same clips and folds, noise-gated."""
from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .. import noise
from .labels import ours_label

if TYPE_CHECKING:  # pragma: no cover
    from ..runs import Runs


def _as_run(result, baseline) -> SimpleNamespace:
    """The baseline's LOSO predictions in a run's shape (the model run gives ids and subjects)."""
    p = result.predictions.copy()
    aus = list(dict.fromkeys(p["au"]))
    ids = list(dict.fromkeys(p["id"]))
    pred = pd.DataFrame(baseline.predictions, index=ids, columns=aus)
    p["pred"] = [int(pred.at[i, a]) for i, a in zip(p["id"], p["au"])]
    p["prob"] = p["pred"].astype(float)
    return SimpleNamespace(predictions=p, f1=baseline.f1, acc=baseline.acc)


def model_vs_baseline(runs: "Runs", variant: str = "full") -> tuple[pd.DataFrame, str]:
    """Per data set: the baseline's and the model's mean F1 and ACC, and a sentence that says which
    is higher only when the difference is outside the paired subject-bootstrap interval and the
    model's seed band (else "within noise")."""
    from ..baseline import baseline_for_config
    from .verdicts import seed_spreads

    spreads = seed_spreads(runs)
    rows, lines = [], []
    for dataset in runs.datasets:
        result = runs.get(variant, dataset)
        if result is None:
            continue
        base = baseline_for_config(result.config)
        diff, v = noise.paired_verdict(result, _as_run(result, base), spreads.get(dataset),
                                       names=("full model", "region baseline"))
        rows += [{"data": ours_label(dataset), "method": "region-flow baseline (logistic regression)",
                  "mean F1": base.f1, "mean ACC": base.acc},
                 {"data": ours_label(dataset), "method": f"full model ({result.config.profile} profile)",
                  "mean F1": result.f1, "mean ACC": result.acc}]
        lines.append(f"**{ours_label(dataset)}**: " + noise.direction_sentence(
            "the full model", "the region baseline", v))
    table = pd.DataFrame(rows).set_index(["data", "method"]) if rows else pd.DataFrame()
    return table, "\n\n".join(lines)
