"""Evaluation as in Sec. IV-A: predictions of all LOSO folds are concatenated first, then F1 of the
positive class and accuracy are computed per AU and averaged over AUs (Tables II-IX). MER uses
UF1 (macro F1), UAR (macro recall), WF1 (support-weighted F1) and accuracy (Table X)."""
from __future__ import annotations

import numpy as np
import pandas as pd

# sklearn is imported where a metric is computed: reading runs back (every notebook) does not need it


def au_metrics(labels: np.ndarray, preds: np.ndarray, au_names: list[str]) -> pd.DataFrame:
    """Per-AU F1 (positive class) and accuracy over all samples, plus a 'mean' row.

    An AU with no positive label and no positive prediction has F1 0 (sklearn's zero_division=0),
    the convention of the micro-AU literature; it is reported, not hidden.
    """
    from sklearn.metrics import accuracy_score, f1_score

    labels, preds = np.asarray(labels), np.asarray(preds)
    rows = []
    for n, name in enumerate(au_names):
        y, p = labels[:, n], preds[:, n]
        rows.append({
            "au": name,
            "f1": f1_score(y, p, pos_label=1, zero_division=0),
            "acc": accuracy_score(y, p),
            "n_pos": int(y.sum()),
            "n_pred_pos": int(p.sum()),
        })
    table = pd.DataFrame(rows)
    mean = {"au": "mean", "f1": table.f1.mean(), "acc": table.acc.mean(),
            "n_pos": int(table.n_pos.sum()), "n_pred_pos": int(table.n_pred_pos.sum())}
    return pd.concat([table, pd.DataFrame([mean])], ignore_index=True)


def no_au_metrics(au_names: list[str]) -> pd.DataFrame:
    """The table of a run that scores no clip for AUs (it tests an emotion-only set such as SMIC):
    F1 and accuracy undefined (NaN), no positives."""
    rows = [{"au": name, "f1": float("nan"), "acc": float("nan"), "n_pos": 0, "n_pred_pos": 0}
            for name in [*au_names, "mean"]]
    return pd.DataFrame(rows)


def mer_metrics(true: list[str], pred: list[str], classes: tuple[str, ...]) -> dict[str, float]:
    """UF1, UAR, WF1 and accuracy over the classes that occur in ``true``."""
    if len(true) == 0:
        return {"uf1": float("nan"), "uar": float("nan"), "wf1": float("nan"), "acc": float("nan"), "n": 0}
    from sklearn.metrics import accuracy_score, f1_score, recall_score

    present = [c for c in classes if c in set(true)]
    return {
        "uf1": float(f1_score(true, pred, labels=present, average="macro", zero_division=0)),
        "uar": float(recall_score(true, pred, labels=present, average="macro", zero_division=0)),
        "wf1": float(f1_score(true, pred, labels=present, average="weighted", zero_division=0)),
        "acc": float(accuracy_score(true, pred)),
        "n": len(true),
    }
