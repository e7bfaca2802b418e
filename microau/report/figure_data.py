"""What the figure pages plot, read from runs: token maps, dependency weights, similarities, embeddings."""
from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from ..prep.pipeline import prepare_clip

from ..data.registry import prep_settings_for, samples_for
from ..model.backbone import token_grid  # noqa: F401 (the pages' patch grid, re-exported)
from ..model.tokens import pta_token_map  # noqa: F401 (the pages' token map, re-exported)
from .statistics import cosine_matrix


def clip_ids(result) -> list[str]:
    """Clip ids in the order of the run's arrays (the order of ``load_train_data``)."""
    return result.predictions["id"].drop_duplicates().tolist()


def prepared_clips(cfg, ids: Iterable[str]) -> dict:
    """``prepare_clip`` for the given clip ids (read from the preparation cache when there)."""

    wanted = list(ids)
    by_id = {s.id: s for s in samples_for(cfg)}
    settings = prep_settings_for(cfg)
    return {i: prepare_clip(by_id[i], settings) for i in wanted}


def token_index(landmarks: np.ndarray, image_size: int, grid: tuple[int, int]) -> np.ndarray:
    """Eq. 1 for numpy landmarks [..., 2] via the model's own function."""
    import torch

    from ..model.tokens import landmark_token_index

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
