"""The paper's mechanisms checked against the phantom's ground truth (issue 12).

The phantom knows, for every clip, which AUs move and where: each AU's motion is a sum of
Gaussian bumps anchored on the 68 landmarks (``microau.data.phantom.au_bumps``). From that we ask
of a finished run (its ``arrays.npz``):

- **PTA (Fig. 5)**: what share of each AU's attention mass (Eq. 2) lies on the patch tokens the
  AU's motion actually covers, against the share uniform weights over the same Table I tokens
  would give (:func:`pta_moving_share`); on a 7 x 7 grid nearly every Table I token lies in the
  moving area, so :func:`pta_motion_excess` also asks whether attention leans towards the tokens
  that move most;
- **GDA**: how much of W_d (Eq. 5) lies on the clip's active AUs against the share by chance,
  and whether W_d follows the generator's co-occurrence (:func:`dependency_on_active`,
  :func:`cooccurrence_agreement`);
- **MiAUCL (Fig. 6)**: whether clips with the same label for an AU have more alike AU features
  than clips with different labels (:func:`label_similarity`);
- **Fig. 7**: one separation score per variant with its subject-bootstrap interval
  (:func:`separation_with_noise`).

Every number here is computed on phantom data and is labelled so by the pages that show it.
The ``describe_*`` functions say in words whether the paper's qualitative claim holds, gated by
noise through ``microau.noise`` ("within noise" otherwise).

Our readings (the paper defines none of these measures): a pixel moves for an AU when its
displacement is at least ``threshold`` (default 0.25) of the AU's largest displacement in that
clip; a token is covered when any of its pixels moves (alternatives: a threshold in pixels, or
a token's mean displacement). Feature similarities are compared only between clips tested in
the same LOSO fold, because features of different folds come from different models.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from . import draws, noise
from .aus import AU_LANDMARKS
from .model.tokens import landmark_token_index

MOVING_THRESHOLD = 0.25
# A candidate token is one of the AU's *peak* tokens when its mean motion is at least this share of
# the most moving of the AU's Table I tokens in that clip (our sharper reading, issue 22): on the
# phantom, the motion is anchored on the Table I landmarks, so "covered by the motion" holds for
# nearly every candidate token at any grid, and a check against it cannot fail.
PEAK_SHARE = 0.85


# --------------------------------------------------------------------------- ground truth


def au_motion_magnitude(au: int, landmarks: np.ndarray, image_size: int, side: str | None = None,
                        sigma_scale: float = 1.0, anchor: str = "table1") -> np.ndarray:
    """|displacement| [S, S] of one AU's phantom motion field (peak weight 1) on an image whose
    68 landmarks are ``landmarks`` [68, 2] (x, y pixels). The bumps are anchored on the landmarks
    and scale with the eye distance, so the field follows the face through the crop and resize.
    ``anchor``: 'offsite' for the control phantom whose motion is moved off Table I's landmarks."""
    from .data.phantom import au_bumps, displacement

    ys, xs = np.mgrid[0:image_size, 0:image_size].astype(np.float32)
    bumps = au_bumps(au, np.asarray(landmarks, np.float64), side, anchor)
    dx, dy = displacement(xs, ys, bumps, 1.0, sigma_scale)
    return np.hypot(dx, dy)


@functools.lru_cache(maxsize=4)
def _pixel_tokens(image_size: int, grid: tuple[int, int]) -> np.ndarray:
    """Eq. 1 for every pixel (x, y) of the image: flat token index [S, S]."""
    ys, xs = np.mgrid[0:image_size, 0:image_size]
    points = torch.as_tensor(np.stack([xs, ys], -1).astype(np.float32))
    return landmark_token_index(points, (image_size, image_size), grid).numpy()


def moving_tokens(au: int, landmarks: np.ndarray, image_size: int, grid: tuple[int, int],
                  side: str | None = None, threshold: float = MOVING_THRESHOLD,
                  sigma_scale: float = 1.0, anchor: str = "table1") -> np.ndarray:
    """Bool [h*w]: the patch tokens (Eq. 1) holding a pixel where the AU's motion is at least
    ``threshold`` of its peak."""
    mag = au_motion_magnitude(au, landmarks, image_size, side, sigma_scale, anchor)
    covered = np.zeros(grid[0] * grid[1], dtype=bool)
    peak = float(mag.max())
    if peak <= 0:
        return covered
    covered[np.unique(_pixel_tokens(image_size, grid)[mag >= threshold * peak])] = True
    return covered


def token_motion(au: int, landmarks: np.ndarray, image_size: int, grid: tuple[int, int],
                 side: str | None = None, sigma_scale: float = 1.0, anchor: str = "table1") -> np.ndarray:
    """Float [h*w]: the AU's mean motion magnitude over each token's pixels, relative to the
    AU's peak (0 where it does not move). Finer than :func:`moving_tokens` when every Table I
    token of an AU lies in its moving area, as it mostly does on a 7 x 7 grid."""
    mag = au_motion_magnitude(au, landmarks, image_size, side, sigma_scale, anchor)
    peak = float(mag.max())
    n_tokens = grid[0] * grid[1]
    if peak <= 0:
        return np.zeros(n_tokens)
    tok = _pixel_tokens(image_size, grid).ravel()
    total = np.bincount(tok, weights=mag.ravel() / peak, minlength=n_tokens)
    return total / np.maximum(np.bincount(tok, minlength=n_tokens), 1)


def truth_by_id(truth: Sequence[dict]) -> dict[str, dict]:
    """Phantom truth records (``microau.data.phantom.read_truth``) keyed by clip id 'subject/clip'."""
    return {f"{t['subject']}/{t['clip']}": t for t in truth}


def truth_moving_tokens(truth: Sequence[dict], ids: Sequence[str], landmarks: np.ndarray, aus: Sequence[int],
                        image_size: int, grid: tuple[int, int], threshold: float = MOVING_THRESHOLD,
                        sigma_scale: float = 1.0) -> np.ndarray:
    """Bool [M, N, h*w]: for each clip and AU, the tokens that AU's motion covers in that clip
    (all False where the AU does not move in the clip). ``landmarks`` [M, 68, 2] are the prepared
    landmarks in flow-image pixels, ``ids`` the clips' ids in the same order. Each clip's motion
    is placed as its phantom placed it (its truth record's ``motion_anchor``)."""
    return _per_clip(truth, ids, aus, lambda i, au, side, anchor: moving_tokens(
        au, landmarks[i], image_size, grid, side, threshold, sigma_scale, anchor), grid, bool)


def truth_token_motion(truth: Sequence[dict], ids: Sequence[str], landmarks: np.ndarray, aus: Sequence[int],
                       image_size: int, grid: tuple[int, int], sigma_scale: float = 1.0) -> np.ndarray:
    """Float [M, N, h*w]: :func:`token_motion` of each AU that moves in each clip (0 elsewhere)."""
    return _per_clip(truth, ids, aus, lambda i, au, side, anchor: token_motion(
        au, landmarks[i], image_size, grid, side, sigma_scale, anchor), grid, float)


def _per_clip(truth, ids, aus, compute, grid, dtype) -> np.ndarray:
    by_id = truth_by_id(truth)
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise ValueError(f"{len(missing)} clip(s) have no phantom truth record (e.g. {missing[0]!r}); "
                         "ground truth exists only for phantom data sets, read with read_truth(root)")
    out = np.zeros((len(ids), len(aus), grid[0] * grid[1]), dtype=dtype)
    for i, cid in enumerate(ids):
        t = by_id[cid]
        moving = set(int(a) for a in t["aus"])
        for n, au in enumerate(aus):
            if au in moving:
                out[i, n] = compute(i, au, t["sides"].get(str(au)), t.get("motion_anchor", "table1"))
    return out


def peak_tokens(motion: np.ndarray, token_index: np.ndarray, valid: np.ndarray,
                share: float = PEAK_SHARE) -> np.ndarray:
    """Bool [M, N, h*w]: each AU's candidate (Table I) tokens whose motion (``motion`` [M, N, h*w]
    from :func:`truth_token_motion`) is at least ``share`` of the largest motion among that AU's
    candidate tokens in the clip; all False where no candidate token moves."""
    M, N, _ = token_index.shape
    cand = np.zeros(motion.shape, dtype=bool)
    for n in range(N):
        cand[np.arange(M)[:, None], n, token_index[:, n][:, valid[n]]] = True
    top = np.where(cand, motion, 0.0).max(-1, keepdims=True)
    return cand & (top > 0) & (motion >= share * top)


def region_tokens(landmarks: np.ndarray, aus: Sequence[int], image_size: int,
                  grid: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Each AU's Table I tokens per clip (Eq. 1): index [M, N, L] and validity [N, L], the order
    of PTA's weights."""
    from .model.tokens import au_landmark_table

    index, valid = au_landmark_table(tuple(aus))
    lm = torch.as_tensor(np.asarray(landmarks, np.float32))
    tokens = landmark_token_index(lm, (image_size, image_size), grid)[:, index]
    return tokens.numpy(), valid.numpy()


# --------------------------------------------------------------------------- PTA (Fig. 5)


@dataclass(frozen=True)
class MovingShare:
    """Per (clip, AU) with the AU active: attention share and uniform share on moving tokens."""

    share: np.ndarray  # [M, N], nan where not counted
    uniform: np.ndarray  # [M, N]
    counted: np.ndarray  # bool [M, N]: AU active, some but (informative_only) not all of its landmarks on moving tokens
    uncovered: np.ndarray  # bool [M, N]: AU active, none of its Table I tokens moves
    saturated: np.ndarray | None = None  # bool [M, N]: AU active, every landmark on a moving token (uniform share 1)

    def per_au(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean attention share, mean uniform share (nan for an AU never counted) and count per AU."""
        n = self.counted.sum(0)
        mean = lambda x: np.where(n > 0, np.where(self.counted, x, 0.0).sum(0) / np.maximum(n, 1), np.nan)  # noqa: E731
        return mean(self.share), mean(self.uniform), n

    def clip_excess(self) -> np.ndarray:
        """Per clip: mean over its counted AUs of share - uniform (nan if none): [M]."""
        d = np.where(self.counted, self.share - self.uniform, 0.0)
        n = self.counted.sum(1)
        return np.where(n > 0, d.sum(1) / np.maximum(n, 1), np.nan)


def pta_moving_share(token_weights: np.ndarray, token_index: np.ndarray, valid: np.ndarray,
                     moving: np.ndarray, active: np.ndarray, informative_only: bool = False) -> MovingShare:
    """Share of each AU's PTA mass on its truly moving tokens, and what uniform weights give.

    token_weights W [M, N, L] (Eq. 2, over the AU's Table I landmarks; one token may hold several
    landmarks), token_index [M, N, L], valid [N, L], moving [M, N, h*w], active [M, N] labels.
    The share is sum_j W_j [token_j moves]; the uniform share is the fraction of the AU's valid
    landmarks whose token moves.
    """
    M, N, L = token_weights.shape
    on = np.take_along_axis(moving, token_index.reshape(M, N, L), axis=2) & valid[None]
    share = (token_weights * on).sum(-1)
    uniform = on.sum(-1) / valid.sum(-1)[None]
    act = np.asarray(active).astype(bool)
    saturated = act & (on.sum(-1) == valid.sum(-1)[None])
    counted = act & (on.sum(-1) > 0)
    if informative_only:  # uniform weights already score 1 there: attention cannot do better or worse
        counted &= ~saturated
    return MovingShare(np.where(counted, share, np.nan), np.where(counted, uniform, np.nan), counted,
                       act & (on.sum(-1) == 0), saturated)


def pta_motion_excess(token_weights: np.ndarray, token_index: np.ndarray, valid: np.ndarray,
                      motion: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Per clip: mean over its active AUs of the PTA-weighted token motion minus the motion that
    uniform weights over the same Table I landmarks give (motion from :func:`token_motion`,
    relative to the AU's peak; nan for clips with no active AU) [M]. Positive when attention
    leans towards the tokens that move most."""
    M, N, L = token_weights.shape
    m = np.take_along_axis(motion, token_index.reshape(M, N, L), axis=2) * valid[None]
    attended = (token_weights * m).sum(-1)
    uniform = m.sum(-1) / valid.sum(-1)[None]
    act = np.asarray(active).astype(bool)
    n = act.sum(1)
    return np.where(n > 0, np.where(act, attended - uniform, 0.0).sum(1) / np.maximum(n, 1), np.nan)


# --------------------------------------------------------------------------- GDA


def dependency_on_active(dependency: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per clip: W_d's mass on the active AUs and the share uniform weights give (k / N); nan for
    clips with no active AU. [M], [M]."""
    y = np.asarray(labels).astype(float)
    k = y.sum(1)
    mass = np.where(k > 0, (dependency * y).sum(1), np.nan)
    chance = np.where(k > 0, k / y.shape[1], np.nan)
    return mass, chance


def cooccurrence(labels: np.ndarray) -> np.ndarray:
    """P(AU m active | AU n active) [N, N] (row n); nan rows for AUs never active."""
    y = np.asarray(labels).astype(float)
    count = y.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count[:, None] > 0, (y.T @ y) / count[:, None], np.nan)


def truth_labels(truth: Sequence[dict], ids: Sequence[str], aus: Sequence[int]) -> np.ndarray:
    """0/1 [M, N]: which of ``aus`` the phantom's generator moved in each clip."""
    by_id = truth_by_id(truth)
    return np.array([[int(a in set(by_id[i]["aus"])) for a in aus] for i in ids])


def dependency_profile(dependency: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Mean W_d over the clips where AU n is active (row n) [N, N]; nan rows for AUs never active."""
    y = np.asarray(labels).astype(float)
    count = y.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count[:, None] > 0, (y.T @ dependency) / count[:, None], np.nan)


def cooccurrence_agreement(dependency: np.ndarray, labels: np.ndarray, generator: np.ndarray) -> float:
    """Pearson r over AU pairs n != m between the W_d profile (:func:`dependency_profile` on the
    run's labels) and the generator's co-occurrence P(m | n) (:func:`cooccurrence` of the truth
    labels). nan when either is constant or fewer than three pairs are defined."""
    prof = dependency_profile(dependency, labels)
    cooc = cooccurrence(generator)
    off = ~np.eye(len(prof), dtype=bool)
    a, b = prof[off], cooc[off]
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


# --------------------------------------------------------------------------- MiAUCL and Fig. 7


def _cosine(x: np.ndarray) -> np.ndarray:
    x = x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
    return x @ x.T


def _pair_sums(au_features: np.ndarray, labels: np.ndarray, fold: np.ndarray):
    """Per fold and AU: (sum, count) of cosine similarities over same-label and different-label
    pairs of distinct clips of that fold: arrays [F, N, 2] (within, between) and fold ids."""
    folds = np.unique(fold)
    N = au_features.shape[1]
    sums = np.zeros((len(folds), N, 2))
    counts = np.zeros((len(folds), N, 2))
    for k, f in enumerate(folds):
        idx = np.flatnonzero(fold == f)
        if len(idx) < 2:
            continue
        iu = np.triu_indices(len(idx), 1)
        for n in range(N):
            s = _cosine(au_features[idx, n])[iu]
            y = labels[idx, n]
            same = y[iu[0]] == y[iu[1]]
            sums[k, n] = s[same].sum(), s[~same].sum()
            counts[k, n] = same.sum(), (~same).sum()
    return folds, sums, counts


def _similarity_from_sums(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)  # [..., N, 2]


def label_similarity(au_features: np.ndarray, labels: np.ndarray, fold: np.ndarray) -> np.ndarray:
    """Per AU: mean cosine similarity of the AU's features over same-label pairs and over
    different-label pairs of clips tested in the same fold: [N, 2] (within, between)."""
    _, sums, counts = _pair_sums(au_features, np.asarray(labels), np.asarray(fold))
    return _similarity_from_sums(sums.sum(0), counts.sum(0))


def separation_score(au_features: np.ndarray, labels: np.ndarray, fold: np.ndarray) -> float:
    """Mean over AUs (those with both kinds of pairs) of within-label minus between-label
    similarity (:func:`label_similarity`)."""
    sim = label_similarity(au_features, labels, fold)
    d = sim[:, 0] - sim[:, 1]
    return float(np.nanmean(d)) if np.isfinite(d).any() else float("nan")


def separation_with_noise(au_features: np.ndarray, labels: np.ndarray, fold: np.ndarray,
                          n_boot: int = 1000, level: float = 0.95, seed: int = 0,
                          other: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
                          ) -> tuple[float, float, float]:
    """:func:`separation_score` and its subject-bootstrap interval (value, low, high).

    LOSO folds are subjects; a resample draws folds with replacement (``noise.subject_resamples``)
    and a fold drawn twice counts its pairs twice. With ``other`` = (features, labels, fold) of a
    second run on the same clips, the statistic is this run's score minus the other's, under the
    same resamples (a paired difference).
    """
    folds, s, c = _pair_sums(au_features, np.asarray(labels), np.asarray(fold))
    if other is not None:
        folds_b, s_b, c_b = _pair_sums(other[0], np.asarray(other[1]), np.asarray(other[2]))
        if not np.array_equal(folds, folds_b):
            raise ValueError("the two runs have different LOSO folds; a paired score needs the same clips")

    def score(w):
        sim = _similarity_from_sums(np.tensordot(w, s, 1), np.tensordot(w, c, 1))
        d = sim[:, 0] - sim[:, 1]
        value = np.nanmean(d) if np.isfinite(d).any() else np.nan
        if other is not None:
            sim_b = _similarity_from_sums(np.tensordot(w, s_b, 1), np.tensordot(w, c_b, 1))
            d_b = sim_b[:, 0] - sim_b[:, 1]
            value = value - (np.nanmean(d_b) if np.isfinite(d_b).any() else np.nan)
        return float(value)

    weights = noise.subject_resamples(len(folds), n_boot, seed)
    values = np.array([score(w) for w in weights])
    low, high = noise.percentile_interval(values, level)
    return score(np.ones(len(folds))), low, high


# --------------------------------------------------------------------------- sentences


def _clip_statistic(per_clip: np.ndarray, subjects: Sequence[str], n_boot: int, seed: int):
    per_clip = np.asarray(per_clip, float)
    return noise.subject_bootstrap(subjects, lambda idx: float(np.nanmean(per_clip[idx])) if
                                   np.isfinite(per_clip[idx]).any() else float("nan"), n_boot=n_boot, seed=seed)


def _verdict(value, low, high, spread):
    """A claim holds only outside both the subject-bootstrap interval and the seed band; without a
    measured seed spread it is not judged."""
    return noise.verdict(value, (low, high), spread, require_seed_spread=True)


def describe_pta(share: MovingShare, subjects: Sequence[str], spread: noise.SeedSpread | None = None,
                 n_boot: int = 1000, seed: int = 0) -> str:
    """Whether PTA's attention lies on the AU's truly moving tokens more than uniform weights
    would put there, on the phantom. ``spread``: the seed spread of the same excess, if measured."""
    value, low, high = _clip_statistic(share.clip_excess(), subjects, n_boot, seed)
    s, u, n = share.per_au()
    saturated = int(share.saturated.sum()) if share.saturated is not None else 0
    head = (f"Over {int(n.sum())} (clip, active AU) pairs, PTA puts {np.nansum(s * n) / max(n.sum(), 1):.3f} "
            f"of its weight on the AU's peak tokens, uniform weights {np.nansum(u * n) / max(n.sum(), 1):.3f}; "
            f"{int(share.uncovered.sum())} active pairs have no moving Table I token and {saturated} have every "
            "Table I landmark on a peak token (uniform weights already score 1 there; AU12 and AU15, whose two "
            "landmarks are both lip corners, are mostly such pairs), so neither is counted. ")
    return head + noise.claim_sentence("PTA attends to the tokens where the AU moves most more than uniform "
                                       "weights", "attention share", "uniform share", _verdict(value, low, high, spread))


def describe_pta_motion(excess: np.ndarray, subjects: Sequence[str], spread: noise.SeedSpread | None = None,
                        n_boot: int = 1000, seed: int = 0) -> str:
    """Whether PTA leans towards the tokens that move most (``excess`` from :func:`pta_motion_excess`)."""
    value, low, high = _clip_statistic(excess, subjects, n_boot, seed)
    return noise.claim_sentence("PTA's weights lean towards the AU's most moving tokens",
                                "attention-weighted motion", "uniform-weighted motion",
                                _verdict(value, low, high, spread))


def describe_dependency_active(dependency: np.ndarray, labels: np.ndarray, subjects: Sequence[str],
                               spread: noise.SeedSpread | None = None, n_boot: int = 1000, seed: int = 0) -> str:
    """Whether W_d puts more mass on the clip's active AUs than chance, on held-out clips."""
    mass, chance = dependency_on_active(dependency, labels)
    value, low, high = _clip_statistic(mass - chance, subjects, n_boot, seed)
    head = (f"On clips with an active AU, W_d puts {np.nanmean(mass):.3f} of its mass on the active AUs, "
            f"chance {np.nanmean(chance):.3f}. ")
    return head + noise.claim_sentence("GDA's dependency weights favour the active AUs", "W_d mass",
                                       "chance share", _verdict(value, low, high, spread))


def describe_cooccurrence(dependency: np.ndarray, labels: np.ndarray, generator: np.ndarray,
                          subjects: Sequence[str], spread: noise.SeedSpread | None = None,
                          n_boot: int = 1000, seed: int = 0) -> str:
    """Whether W_d follows the generator's co-occurrence (r over AU pairs above 0)."""
    y, g = np.asarray(labels), np.asarray(generator)
    value, low, high = noise.subject_bootstrap(
        subjects, lambda idx: cooccurrence_agreement(dependency[idx], y[idx], g[idx]), n_boot=n_boot, seed=seed)
    return noise.claim_sentence("GDA's dependency weights follow the generator's AU co-occurrence",
                                "Pearson r over AU pairs", None, _verdict(value, low, high, spread))


def describe_label_similarity(au_features: np.ndarray, labels: np.ndarray, fold: np.ndarray, setting: str,
                              spread: noise.SeedSpread | None = None, n_boot: int = 1000, seed: int = 0) -> str:
    """Whether same-label clips are more alike than different-label clips under one contrastive
    setting (Fig. 6's claim for MiAUCL)."""
    value, low, high = separation_with_noise(au_features, labels, fold, n_boot=n_boot, seed=seed)
    return f"*{setting}*: " + noise.claim_sentence(
        "AU features of clips with the same label are more alike than those of clips with different labels",
        "within-label similarity", "between-label similarity", _verdict(value, low, high, spread))


def describe_separation_pair(a: str, b: str, run_a: tuple, run_b: tuple,
                             spread: noise.SeedSpread | None = None, n_boot: int = 1000, seed: int = 0) -> str:
    """Fig. 7: whether variant ``a`` separates the classes more than ``b`` (paired over folds).
    ``run_a``/``run_b`` are (au_features, labels, fold) on the same clips."""
    value, low, high = separation_with_noise(*run_a, n_boot=n_boot, seed=seed, other=run_b)
    return noise.direction_sentence(a, b, _verdict(value, low, high, spread), metric="separation score")


# --------------------------------------------------------------------------- a run against its truth


@dataclass
class RunGroundTruth:
    """What the checks need besides a run's arrays: clips in the run's row order, their prepared
    landmarks, the tokens each AU's motion covers, and which AUs the generator moved."""

    ids: list[str]
    subjects: list[str]
    landmarks: np.ndarray  # [M, 68, 2] flow-image pixels
    aus: tuple[int, ...]
    image_size: int
    grid: tuple[int, int]
    moving: np.ndarray  # bool [M, N, h*w]
    motion: np.ndarray  # float [M, N, h*w], relative to each AU's peak
    generator_labels: np.ndarray  # 0/1 [M, N]
    peak: np.ndarray | None = None  # bool [M, N, h*w]: each AU's peak candidate tokens (peak_tokens)

    def __post_init__(self):
        if self.peak is None:
            index, valid = region_tokens(self.landmarks, self.aus, self.image_size, self.grid)
            self.peak = peak_tokens(self.motion, index, valid)


def ground_truth_for_run(result, threshold: float = MOVING_THRESHOLD) -> RunGroundTruth:
    """The phantom's truth for the clips of a finished run (preparation is read from its cache)."""
    from .data.phantom import read_truth
    from .model.backbone import token_grid
    from .train.data import load_train_data

    from .data.registry import is_phantom, phantom_settings, root_for

    cfg = result.config
    if not is_phantom(cfg.dataset):
        raise ValueError(f"{cfg.dataset!r} has no ground truth: the mechanism checks need a phantom data set "
                         "(phantom-casme2, phantom-samm or one of their controls)")
    data = load_train_data(cfg, progress=False)
    run_ids = list(dict.fromkeys(result.predictions["id"]))
    if run_ids != list(data.ids):
        raise ValueError(f"the run at {result.run_dir} was computed on other clips than the data its config "
                         "loads now (clip ids differ); train it again")
    truth = read_truth(root_for(cfg))
    anchors = {t.get("motion_anchor", "table1") for t in truth}
    if anchors != {phantom_settings(cfg.dataset).motion_anchor}:
        raise ValueError(f"the phantom read for {cfg.dataset!r} places its motion as {sorted(anchors)}, not as "
                         f"{cfg.dataset!r} does ({phantom_settings(cfg.dataset).motion_anchor!r}); "
                         "check the run's data_root")
    grid = token_grid(cfg)
    size = int(data.images.shape[-1])
    landmarks = data.landmarks.cpu().numpy()
    return RunGroundTruth(
        ids=run_ids, subjects=list(data.subjects), landmarks=landmarks, aus=tuple(data.aus), image_size=size,
        grid=grid, moving=truth_moving_tokens(truth, run_ids, landmarks, data.aus, size, grid, threshold),
        motion=truth_token_motion(truth, run_ids, landmarks, data.aus, size, grid),
        generator_labels=truth_labels(truth, run_ids, data.aus))


def check_run(result, truth: RunGroundTruth, spreads: dict[str, noise.SeedSpread] | None = None,
              n_boot: int = 1000, seed: int = 0) -> dict[str, str]:
    """Every ground-truth check that applies to the run, as computed sentences keyed by
    'pta', 'pta_motion', 'gda_active', 'gda_cooccurrence', 'similarity'. ``spreads`` holds the seed spread of
    the same statistic under those keys, when measured."""
    spreads = spreads or {}
    arr = result.arrays()
    labels = arr["labels"]
    out = {}
    if "token_weights" in arr:
        index, valid = region_tokens(truth.landmarks, truth.aus, truth.image_size, truth.grid)
        share = pta_moving_share(arr["token_weights"], index, valid, truth.peak, labels, informative_only=True)
        out["pta"] = describe_pta(share, truth.subjects, spreads.get("pta"), n_boot, seed)
        excess = pta_motion_excess(arr["token_weights"], index, valid, truth.motion, labels)
        out["pta_motion"] = describe_pta_motion(excess, truth.subjects, spreads.get("pta_motion"), n_boot, seed)
    if "dependency" in arr:
        out["gda_active"] = describe_dependency_active(arr["dependency"], labels, truth.subjects,
                                                       spreads.get("gda_active"), n_boot, seed)
        out["gda_cooccurrence"] = describe_cooccurrence(arr["dependency"], labels, truth.generator_labels,
                                                        truth.subjects, spreads.get("gda_cooccurrence"),
                                                        min(n_boot, 300), seed)
    out["similarity"] = describe_label_similarity(arr["au_features"], labels, arr["fold"], result.config.variant,
                                                  spreads.get("similarity"), n_boot, seed)
    return out


def statistic_values(result, truth: RunGroundTruth) -> dict[str, float]:
    """The point value of every check :func:`check_run` judges (same keys), for one run: what a
    seed spread of the checks is computed from (:func:`seed_spreads`)."""
    arr = result.arrays()
    labels = arr["labels"]
    out = {}
    if "token_weights" in arr:
        index, valid = region_tokens(truth.landmarks, truth.aus, truth.image_size, truth.grid)
        share = pta_moving_share(arr["token_weights"], index, valid, truth.peak, labels, informative_only=True)
        out["pta"] = float(np.nanmean(share.clip_excess()))
        out["pta_motion"] = float(np.nanmean(pta_motion_excess(arr["token_weights"], index, valid,
                                                                truth.motion, labels)))
    if "dependency" in arr:
        mass, chance = dependency_on_active(arr["dependency"], labels)
        out["gda_active"] = float(np.nanmean(mass - chance))
        out["gda_cooccurrence"] = float(cooccurrence_agreement(arr["dependency"], labels, truth.generator_labels))
    out["similarity"] = float(separation_score(arr["au_features"], labels, arr["fold"]))
    return out


def seed_spreads(seed_runs: Sequence, truth: RunGroundTruth) -> dict[str, noise.SeedSpread]:
    """The spread of each check's value over runs that differ only by seed and backbone draw
    (``noise.spread_of_draws``; empty with fewer than two runs)."""
    if len(seed_runs) < 2:
        return {}
    values = [statistic_values(r, truth) for r in seed_runs]
    keys = [draws.draw_key(r.config.backbone_seed, r.config.seed) for r in seed_runs]
    return {k: draws.spread_of_draws({key: v[k] for key, v in zip(keys, values)}) for k in values[0]}
