"""Statistics of one run's predictions: resampling error, orderings, chance levels."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..aus import EMOTION3_CLASSES
from ..train.metrics import mer_metrics

from .labels import MER_METRICS


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


def majority_scores(result) -> dict[str, float]:
    """MER scores of always answering the most frequent class, on the clips the run scored."""

    mer = result.mer
    true = mer.emotion3[mer.emotion3.fillna("") != ""].astype(str).tolist()
    if not true:
        return {**{m: float("nan") for m in MER_METRICS}, "n": 0}
    majority = pd.Series(true).value_counts().index[0]
    scores = mer_metrics(true, [majority] * len(true), EMOTION3_CLASSES)
    scores["mer_acc"] = scores["acc"]
    return scores


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


def cosine_matrix(x: np.ndarray) -> np.ndarray:
    x = x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
    return x @ x.T
