"""Run-to-run noise, measured, and the verdicts and sentences that must respect it.

The paper reports one seed. Two sources of noise decide whether a difference between two of our
runs means anything:

- which subjects happen to be in the data: a **paired subject-level bootstrap** resamples LOSO
  subjects with replacement, the same resample for both runs, and recomputes each run's
  mean-over-AUs F1 on the concatenated predictions of the resampled subjects
  (:func:`paired_bootstrap_f1`; :func:`subject_bootstrap` does the same for any statistic);
- which seed trained the model: the **seed spread** of a metric over runs that differ only by
  seed (:func:`seed_spread`).

:func:`verdict` calls a difference a direction only when it lies outside both: its paired
interval excludes zero and it exceeds the seed band (:func:`seed_band`). Every computed sentence
that states a direction, an ordering or an agreement goes through :func:`direction_sentence`,
:func:`ordering_sentence`, :func:`agreement_with_paper` or :func:`claim_sentence`.

Everything here is a pure function of run results: objects with ``.predictions`` (a DataFrame
with columns id, subject, fold, au, label, prob, pred), ``.metrics`` and ``.f1``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

# config fields that do not change what a run computes, besides the seed
_NOT_COMPUTATION = ("seed", "device", "notes", "variant", "profile")


# --------------------------------------------------------------------------- subject bootstrap


def subject_resamples(n_subjects: int, n_boot: int, seed: int = 0) -> np.ndarray:
    """How often each subject is drawn in each bootstrap resample: int array [n_boot, n_subjects].

    Each resample draws ``n_subjects`` subjects with replacement. Everything in this module that
    resamples subjects uses this function, so one ``seed`` gives one set of resamples.
    """
    if n_subjects < 1:
        raise ValueError("the bootstrap needs at least one subject")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_subjects, size=(n_boot, n_subjects))
    return np.stack([np.bincount(row, minlength=n_subjects) for row in draws])


def percentile_interval(values: np.ndarray, level: float) -> tuple[float, float]:
    """The central ``level`` percentile interval of the finite ``values`` (nan, nan if none)."""
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class PairedDifference:
    """A difference a - b of one statistic between two runs on the same clips, with its paired
    subject-bootstrap percentile interval."""

    a: float
    b: float
    difference: float
    low: float
    high: float
    level: float
    n_boot: int
    n_subjects: int

    @property
    def interval(self) -> tuple[float, float]:
        return (self.low, self.high)


def f1_counts_by_subject(predictions: pd.DataFrame, subjects: Sequence[str] | None = None,
                         aus: Sequence[str] | None = None) -> tuple[list[str], list[str], np.ndarray]:
    """True positives, false positives and false negatives per subject and AU.

    Returns (subjects, aus, counts [S, N, 3]); ``subjects``/``aus`` fix the order when given.
    """
    need = {"subject", "au", "label", "pred"}
    missing = need - set(predictions.columns)
    if missing:
        raise ValueError(f"predictions lack the column(s) {sorted(missing)}; a run's predictions.csv has "
                         "id, subject, fold, au, label, prob, pred")
    p = predictions.assign(subject=predictions.subject.astype(str))
    subjects = list(subjects) if subjects is not None else sorted(p.subject.unique())
    aus = list(aus) if aus is not None else list(dict.fromkeys(p.au))
    y, q = p.label.to_numpy().astype(int), p.pred.to_numpy().astype(int)
    frame = pd.DataFrame({"subject": p.subject, "au": p.au, "tp": y & q, "fp": (1 - y) & q, "fn": y & (1 - q)})
    summed = frame.groupby(["subject", "au"], sort=False)[["tp", "fp", "fn"]].sum()
    full = pd.MultiIndex.from_product([subjects, aus], names=["subject", "au"])
    counts = summed.reindex(full, fill_value=0).to_numpy().reshape(len(subjects), len(aus), 3)
    return subjects, aus, counts.astype(np.int64)


def mean_f1_from_counts(counts: np.ndarray) -> np.ndarray:
    """Mean over AUs of the positive-class F1 from [..., N, 3] (tp, fp, fn) counts.

    An AU with no positive label and no positive prediction has F1 0, as in
    ``microau.train.metrics.au_metrics`` (sklearn's zero_division=0).
    """
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    denom = 2 * tp + fp + fn
    f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
    return f1.mean(-1)


def _check_same_clips(pa: pd.DataFrame, pb: pd.DataFrame, names: tuple[str, str]) -> None:
    cols = ["id", "au"]
    a = pa.set_index(cols).sort_index()
    b = pb.set_index(cols).sort_index()
    if not a.index.equals(b.index):
        only_a = len(a.index.difference(b.index))
        only_b = len(b.index.difference(a.index))
        raise ValueError(
            f"runs {names[0]} and {names[1]} are not on the same clips: {only_a} (clip, AU) rows only in the "
            f"first, {only_b} only in the second. A paired bootstrap needs both runs on one data set "
            "(same dataset, n_subjects and preparation)")
    if not (a.label.to_numpy() == b.label.to_numpy()).all():
        raise ValueError(f"runs {names[0]} and {names[1]} disagree on labels of the same clips; they were "
                         "not trained on the same coding")
    if not (a.subject.astype(str).to_numpy() == b.subject.astype(str).to_numpy()).all():
        raise ValueError(f"runs {names[0]} and {names[1]} assign clips to different subjects")


def paired_bootstrap_f1(run_a, run_b, n_boot: int = 2000, level: float = 0.95, seed: int = 0,
                        names: tuple[str, str] = ("A", "B")) -> PairedDifference:
    """Mean-over-AUs F1 of run a minus run b, with a paired subject-level bootstrap interval.

    Each resample draws LOSO subjects with replacement (:func:`subject_resamples`); both runs
    are scored on the concatenated predictions of the same drawn subjects (a subject drawn
    twice counts twice). The interval is the percentile interval of the resampled differences.
    """
    pa, pb = run_a.predictions, run_b.predictions
    _check_same_clips(pa, pb, names)
    subjects, aus, ca = f1_counts_by_subject(pa)
    _, _, cb = f1_counts_by_subject(pb, subjects, aus)
    weights = subject_resamples(len(subjects), n_boot, seed)  # [n_boot, S]
    fa = mean_f1_from_counts(np.einsum("bs,snk->bnk", weights, ca))
    fb = mean_f1_from_counts(np.einsum("bs,snk->bnk", weights, cb))
    a, b = float(mean_f1_from_counts(ca.sum(0))), float(mean_f1_from_counts(cb.sum(0)))
    low, high = percentile_interval(fa - fb, level)
    return PairedDifference(a, b, a - b, low, high, level, n_boot, len(subjects))


def subject_bootstrap(subjects: Sequence[str], statistic: Callable[[np.ndarray], float],
                      n_boot: int = 500, level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """A statistic of clips and its subject-bootstrap percentile interval: (value, low, high).

    ``subjects`` gives each clip's subject; ``statistic(index)`` computes the statistic on the
    clips ``index`` (an int array into the clips, with repeats when a subject is drawn twice).
    For a paired difference, let ``statistic`` return the difference of the two runs.
    """
    subjects = np.asarray(subjects).astype(str)
    names = sorted(set(subjects.tolist()))
    rows = [np.flatnonzero(subjects == s) for s in names]
    weights = subject_resamples(len(names), n_boot, seed)
    values = np.empty(n_boot)
    for k, w in enumerate(weights):
        index = np.concatenate([np.tile(rows[s], w[s]) for s in range(len(names)) if w[s]] or [np.zeros(0, int)])
        values[k] = statistic(index)
    low, high = percentile_interval(values, level)
    return float(statistic(np.arange(len(subjects)))), low, high


# --------------------------------------------------------------------------- seed spread


@dataclass(frozen=True)
class SeedSpread:
    """A metric over runs that differ only by seed, or by seed and backbone draw.

    ``std`` is the standard deviation of one run's value. Over fine-tuning seeds alone it is the
    sample standard deviation; over a grid of backbone draws x seeds (:func:`spread_of_grid`) it
    is ``sqrt(backbone_var + seed_var)``, the noise of one run whose backbone and seed are both
    drawn anew.
    """

    mean: float
    std: float  # sd of one run's value (ddof=1); nan with one run
    min: float
    max: float
    n: int
    seeds: tuple[int, ...] = ()
    backbones: tuple[int, ...] = ()  # pretraining seeds of the backbone draws; () = one backbone
    backbone_var: float = float("nan")  # variance between backbone draws (nested components)
    seed_var: float = float("nan")  # variance between fine-tuning seeds on one backbone

    @property
    def n_backbones(self) -> int:
        return max(1, len(self.backbones))

    @property
    def covers_backbones(self) -> bool:
        """True when the spread includes at least two backbone draws."""
        return len(self.backbones) >= 2

    def describe(self) -> str:
        """'5 seeds' or '3 backbones x 2 seeds': what the spread was measured over."""
        seeds = len(set(self.seeds)) or self.n
        if self.covers_backbones:
            return f"{len(self.backbones)} backbones × {seeds} seeds"
        return f"{seeds} seeds"


def spread_of_values(values: Sequence[float], seeds: Sequence[int] = ()) -> SeedSpread:
    """Mean, sample std, min, max and count of per-seed values."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        raise ValueError("a seed spread needs at least one run")
    std = float(v.std(ddof=1)) if v.size > 1 else float("nan")
    return SeedSpread(float(v.mean()), std, float(v.min()), float(v.max()), int(v.size), tuple(seeds))


@dataclass(frozen=True)
class NoiseComponents:
    """A metric's variance split by source: backbone draw, fine-tuning seed, and which subjects
    were recorded (the subject bootstrap of one run's value). ``shares`` are fractions of their sum."""

    mean: float
    backbone_var: float
    seed_var: float
    subject_var: float
    n_backbones: int
    n_seeds: int

    @property
    def run_sd(self) -> float:
        """sd of one run's value under a new backbone draw and a new seed (subjects fixed)."""
        return math.sqrt(self.backbone_var + self.seed_var)

    def shares(self) -> dict[str, float]:
        parts = {"backbone draw": self.backbone_var, "fine-tuning seed": self.seed_var,
                 "subjects (bootstrap)": self.subject_var}
        total = sum(v for v in parts.values() if np.isfinite(v))
        return {k: (v / total if total > 0 and np.isfinite(v) else float("nan")) for k, v in parts.items()}


def nested_components(values: dict[tuple[int, int], float]) -> tuple[float, float]:
    """(backbone_var, seed_var) of a metric from a grid {(backbone, seed): value}.

    Our reading of a nested one-way random-effects model: seeds are drawn within each backbone
    (seed s on two backbones is not the same draw), so ``seed_var`` is the pooled within-backbone
    sample variance and ``backbone_var`` the variance of the backbone means less seed_var / (seeds
    per backbone), floored at zero (method of moments; the alternative, a crossed design, would
    treat seed s as one draw on every backbone). With one seed per backbone the two cannot be
    separated: all of the variance is given to the backbone (seed_var is nan). With one backbone,
    backbone_var is nan.
    """
    by_backbone: dict[int, list[float]] = {}
    for (b, _), v in sorted(values.items()):
        by_backbone.setdefault(b, []).append(float(v))
    groups = [np.asarray(v) for v in by_backbone.values()]
    if not groups:
        raise ValueError("a noise grid needs at least one run")
    within = [g.var(ddof=1) for g in groups if g.size >= 2]
    seed_var = float(np.mean(within)) if within else float("nan")
    if len(groups) < 2:
        return float("nan"), seed_var
    means = np.array([g.mean() for g in groups])
    per = float(np.mean([g.size for g in groups]))
    between = float(means.var(ddof=1))
    if not np.isfinite(seed_var):
        return between, float("nan")
    return max(0.0, between - seed_var / per), seed_var


def spread_of_grid(values: dict[tuple[int, int], float]) -> SeedSpread:
    """The spread of one run's value over a grid {(backbone draw, fine-tuning seed): value}:
    ``std`` = sqrt(backbone_var + seed_var) (:func:`nested_components`; a component that could
    not be measured counts as zero, and :attr:`SeedSpread.covers_backbones` says whether backbone
    draws were measured at all)."""
    if not values:
        raise ValueError("a noise grid needs at least one run")
    bvar, svar = nested_components(values)
    v = np.array(list(values.values()), dtype=float)
    total = sum(x for x in (bvar, svar) if np.isfinite(x))
    std = math.sqrt(total) if (np.isfinite(bvar) or np.isfinite(svar)) else float("nan")
    backbones = tuple(sorted({b for b, _ in values}))
    return SeedSpread(float(v.mean()), std, float(v.min()), float(v.max()), int(v.size),
                      tuple(s for _, s in sorted(values)), backbones if len(backbones) > 1 else (),
                      bvar, svar)


def noise_components(spread: SeedSpread, subject_sd: float) -> NoiseComponents:
    """The variance shares of a grid spread plus the subject bootstrap sd of one run's value."""
    return NoiseComponents(spread.mean, spread.backbone_var, spread.seed_var, float(subject_sd) ** 2,
                           spread.n_backbones, len(set(spread.seeds)))


def subject_sd_f1(run, n_boot: int = 1000, seed: int = 0) -> float:
    """Standard deviation of a run's mean F1 over subject-bootstrap resamples."""
    subjects, _, counts = f1_counts_by_subject(run.predictions)
    weights = subject_resamples(len(subjects), n_boot, seed)
    return float(mean_f1_from_counts(np.einsum("bs,snk->bnk", weights, counts)).std(ddof=1))


def seed_spread(runs: Sequence, metric: str | Callable = "f1") -> SeedSpread:
    """The spread of ``metric`` (an attribute such as 'f1', or a function of a run) over runs
    that differ only by seed. Runs whose configurations differ otherwise, or share a seed, are a
    clear error (they would measure something other than seed noise)."""
    runs = list(runs)
    if not runs:
        raise ValueError("a seed spread needs at least one run")
    seeds = []
    reference = None
    for k, r in enumerate(runs):
        cfg = getattr(r, "config", None)
        if cfg is None:
            raise ValueError(f"run {k} has no .config, so it cannot be checked to differ only by seed")
        values = {f: v for f, v in cfg.to_dict().items() if f not in _NOT_COMPUTATION}
        if reference is None:
            reference = values
        elif values != reference:
            changed = sorted(f for f in set(values) | set(reference) if values.get(f) != reference.get(f))
            raise ValueError(f"run {k} differs from run 0 in {changed}, not only in the seed")
        seeds.append(int(cfg.seed))
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"runs share seeds ({sorted(seeds)}); a seed spread needs one run per seed")
    get = metric if callable(metric) else (lambda r: getattr(r, metric))
    return spread_of_values([float(get(r)) for r in runs], seeds)


def seed_band(spread: SeedSpread | None) -> float:
    """Half-width of the seed band for a difference of two single-seed runs: 2 * sqrt(2) * std.

    Our rule: two runs that differ only by seed differ by a random amount with standard deviation
    sqrt(2) * std; a difference counts as outside the seed spread beyond two of those. (The range
    max - min over seeds is the other yardstick we considered; it grows with the number of seeds.)
    nan when the spread has fewer than two runs.
    """
    if spread is None or spread.n < 2 or not np.isfinite(spread.std):
        return float("nan")
    return 2.0 * math.sqrt(2.0) * spread.std


# --------------------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class Verdict:
    """Whether a difference a - b is outside both its interval and the seed band.

    ``status`` is 'a > b', 'a < b', 'within noise', or 'unjudged' (no seed spread measured and
    one was required).
    """

    difference: float
    low: float
    high: float
    band: float  # seed band half-width (nan if not measured)
    n_seeds: int
    outside_interval: bool
    outside_band: bool | None  # None: no seed spread
    status: str
    over: str = ""  # what the band was measured over, e.g. '3 backbones × 2 seeds'

    @property
    def direction(self) -> int:
        """+1 (a > b), -1 (a < b) or 0 (within noise, or not judged)."""
        return {"a > b": 1, "a < b": -1}.get(self.status, 0)


def verdict(difference: float, interval: tuple[float, float], spread: SeedSpread | None,
            require_seed_spread: bool = True) -> Verdict:
    """Judge a difference a - b against its paired interval and the seed spread.

    A direction is stated only when the interval excludes zero on the side of the difference and
    |difference| exceeds :func:`seed_band`. Without a measured spread (fewer than two seeds) the
    verdict is 'unjudged', unless ``require_seed_spread=False`` (then the interval alone decides,
    and the sentences say that the seed spread was not measured).
    """
    low, high = (float(v) for v in interval)
    d = float(difference)
    if not all(np.isfinite([d, low, high])):
        return Verdict(d, low, high, float("nan"), 0, False, None, "within noise", "")
    outside_interval = (low > 0 and d > 0) or (high < 0 and d < 0)
    band = seed_band(spread)
    n_seeds = spread.n if spread is not None else 0
    outside_band = None if not np.isfinite(band) else abs(d) > band
    if outside_band is None and require_seed_spread:
        status = "unjudged"
    elif outside_interval and outside_band is not False:
        status = "a > b" if d > 0 else "a < b"
    else:
        status = "within noise"
    return Verdict(d, low, high, band, n_seeds, outside_interval, outside_band, status,
                   spread.describe() if spread is not None else "")


def paired_verdict(run_a, run_b, spread: SeedSpread | None, n_boot: int = 2000, seed: int = 0,
                   names: tuple[str, str] = ("A", "B")) -> tuple[PairedDifference, Verdict]:
    """:func:`paired_bootstrap_f1` and its :func:`verdict` in one call."""
    diff = paired_bootstrap_f1(run_a, run_b, n_boot=n_boot, seed=seed, names=names)
    return diff, verdict(diff.difference, diff.interval, spread)


# --------------------------------------------------------------------------- sentences


def _noise_clause(v: Verdict, paired: bool = True) -> str:
    kind = "paired subject-bootstrap" if paired else "subject-bootstrap"
    parts = [f"{kind} interval {v.low:+.3f} to {v.high:+.3f}"]
    if v.outside_band is None:
        parts.append("seed spread not measured")
    else:
        parts.append(f"noise band ±{v.band:.3f} over {v.over or f'{v.n_seeds} seeds'}")
    return "; ".join(parts)


def direction_sentence(a: str, b: str, v: Verdict, metric: str = "mean F1") -> str:
    """One sentence on the direction between two rows, stated only when outside noise."""
    if v.status in ("a > b", "a < b"):
        sign = ">" if v.status == "a > b" else "<"
        extra = " (subject bootstrap only)" if v.outside_band is None else ""
        return (f"ours: {a} {sign} {b} in {metric}, by {v.difference:+.3f} ({_noise_clause(v)})" + extra + ".")
    if v.status == "unjudged":
        return (f"{a} vs {b}: {metric} differs by {v.difference:+.3f} ({_noise_clause(v)}); with no seed "
                "spread measured, no direction is claimed.")
    why = []
    if not v.outside_interval:
        why.append("the interval contains 0")
    if v.outside_band is False:
        why.append("the noise band covers it")
    return (f"{a} vs {b}: within noise ({metric} {v.difference:+.3f}; {_noise_clause(v)}; "
            + " and ".join(why) + ").")


def ordering_sentence(values: dict[str, float], adjacent: dict[tuple[str, str], Verdict],
                      metric: str = "mean F1") -> str:
    """Rows from best to worst; '>' between neighbours whose difference is outside noise (their
    :class:`Verdict` in ``adjacent`` under (better, worse)), '≈' otherwise."""
    ranked = sorted(values.items(), key=lambda kv: -kv[1])
    out = f"{ranked[0][0]} ({ranked[0][1]:.3f})"
    for (hi, _), (lo, lo_v) in zip(ranked, ranked[1:]):
        v = adjacent.get((hi, lo))
        if v is None and (lo, hi) in adjacent:
            w = adjacent[(lo, hi)]
            v = w if w.direction == 0 else Verdict(-w.difference, -w.high, -w.low, w.band, w.n_seeds,
                                                    w.outside_interval, w.outside_band,
                                                    "a > b" if w.direction < 0 else "a < b", w.over)
        sep = " > " if (v is not None and v.direction > 0) else " ≈ "
        out += f"{sep}{lo} ({lo_v:.3f})"
    return (f"Ours by {metric}: {out}, where '>' marks a difference outside both the paired interval and "
            "the noise band (seeds and, where measured, backbone draws) and '≈' one within noise.")


def agreement_with_paper(a: str, b: str, paper_a: float | None, paper_b: float | None, v: Verdict,
                         metric: str = "mean F1") -> str:
    """Whether our difference a - b agrees with the paper's, stated only when ours is outside noise."""
    if paper_a is None or paper_b is None or not np.isfinite([paper_a, paper_b]).all():
        return f"The paper gives no {metric} for one of {a} and {b}, so there is nothing to agree with."
    paper_sign = np.sign(paper_a - paper_b)
    paper = (f"the paper reports {a} {'>' if paper_sign > 0 else '<' if paper_sign < 0 else '='} {b} "
             f"({paper_a:.3f} vs {paper_b:.3f})")
    if v.direction == 0:
        reason = "no seed spread was measured" if v.status == "unjudged" else "our difference is within noise"
        return (f"{paper[0].upper() + paper[1:]}; {reason} ({v.difference:+.3f}; {_noise_clause(v)}), "
                "so ours neither confirms nor contradicts it.")
    if paper_sign == 0:
        return f"{paper[0].upper() + paper[1:]}; ours separates them ({direction_sentence(a, b, v, metric)})"
    agrees = paper_sign == v.direction
    return (f"{paper[0].upper() + paper[1:]}; ours {'agrees' if agrees else 'reverses it'}: "
            + direction_sentence(a, b, v, metric))


def claim_sentence(claim: str, measured: str, reference: str | None, v: Verdict, paired: bool = False) -> str:
    """Whether a qualitative claim ('measured exceeds reference') holds, gated by noise.

    ``claim`` is the paper's claim in words; ``v`` judges measured - reference (measured against
    zero when ``reference`` is None). ``paired``: the interval resamples two runs together.
    """
    name = measured if reference is None else f"{measured} − {reference}"
    clause = f"{name} = {v.difference:+.3f}; {_noise_clause(v, paired)}"
    if v.direction > 0:
        return f"Holds on the phantom: {claim} ({clause})."
    if v.direction < 0:
        return f"Does not hold on the phantom, the opposite is outside noise: {claim} ({clause})."
    if v.status == "unjudged":
        return f"Not judged, no seed spread measured: {claim} ({clause})."
    return f"Within noise, neither shown nor refuted on the phantom: {claim} ({clause})."
