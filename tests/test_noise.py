"""Noise, measured and used (issue 11): paired subject bootstrap, seed spread, verdicts, sentences.
All on small hand-made run results."""
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from microau.config import Config, make_config
from microau.noise import (
    SeedSpread, Verdict, agreement_with_paper, claim_sentence, direction_sentence, f1_counts_by_subject,
    mean_f1_from_counts, ordering_sentence, paired_bootstrap_f1, paired_verdict, seed_band, seed_spread,
    spread_of_values, subject_bootstrap, subject_resamples, verdict,
)
from microau.train.metrics import au_metrics


@dataclass
class FakeRun:
    predictions: pd.DataFrame
    config: Config

    @property
    def metrics(self) -> pd.DataFrame:
        p = self.predictions
        aus = list(dict.fromkeys(p.au))
        y = p.pivot(index="id", columns="au", values="label")[aus].to_numpy()
        q = p.pivot(index="id", columns="au", values="pred")[aus].to_numpy()
        return au_metrics(y, q, aus)

    @property
    def f1(self) -> float:
        return float(self.metrics.set_index("au").loc["mean", "f1"])


def make_predictions(labels: np.ndarray, preds: np.ndarray, subjects: list[str], aus=("AU1", "AU2")):
    rows = []
    for i, s in enumerate(subjects):
        for n, au in enumerate(aus):
            rows.append((f"{s}/c{i}", s, 0, au, int(labels[i, n]), float(preds[i, n]), int(preds[i, n])))
    return pd.DataFrame(rows, columns=["id", "subject", "fold", "au", "label", "prob", "pred"])


@pytest.fixture
def pair():
    rng = np.random.default_rng(7)
    subjects = [f"s{k}" for k in range(6) for _ in range(5)]
    labels = rng.integers(0, 2, size=(30, 2))
    good = np.where(rng.random((30, 2)) < 0.85, labels, 1 - labels)
    bad = np.where(rng.random((30, 2)) < 0.55, labels, 1 - labels)
    cfg = make_config("smoke", "full")
    return (FakeRun(make_predictions(labels, good, subjects), cfg),
            FakeRun(make_predictions(labels, bad, subjects), cfg), subjects)


def test_counts_reproduce_the_run_f1(pair):
    a, _, _ = pair
    subjects, aus, counts = f1_counts_by_subject(a.predictions)
    assert subjects == sorted(set(pair[2])) and aus == ["AU1", "AU2"] and counts.shape == (6, 2, 3)
    assert mean_f1_from_counts(counts.sum(0)) == pytest.approx(a.f1)
    # an AU with no positive label and no positive prediction scores 0, as in au_metrics
    assert mean_f1_from_counts(np.array([[0, 0, 0], [2, 0, 0]])) == pytest.approx(0.5)


def test_paired_bootstrap_by_hand(pair):
    """The interval equals percentiles of differences recomputed here by concatenating the drawn
    subjects' predictions (repeats included) and scoring them with au_metrics."""
    a, b, subjects = pair
    n_boot = 60
    got = paired_bootstrap_f1(a, b, n_boot=n_boot, level=0.9, seed=3)
    names = sorted(set(subjects))
    diffs = []
    for w in subject_resamples(len(names), n_boot, seed=3):
        drawn = [s for s, k in zip(names, w) for _ in range(k)]
        scores = []
        for run in (a, b):
            p = run.predictions
            parts = [p[p.subject == s] for s in drawn]
            cat = pd.concat(parts, ignore_index=True)
            y = cat.label.to_numpy().reshape(-1, 2)
            q = cat.pred.to_numpy().reshape(-1, 2)
            scores.append(au_metrics(y, q, ["AU1", "AU2"]).set_index("au").loc["mean", "f1"])
        diffs.append(scores[0] - scores[1])
    low, high = np.percentile(diffs, [5, 95])
    assert got.low == pytest.approx(low) and got.high == pytest.approx(high)
    assert got.difference == pytest.approx(a.f1 - b.f1) and got.n_subjects == 6
    assert got.a == pytest.approx(a.f1) and got.b == pytest.approx(b.f1)


def test_identical_runs_have_a_zero_interval(pair):
    a, _, _ = pair
    d = paired_bootstrap_f1(a, a, n_boot=200)
    assert d.difference == 0.0 and d.interval == (0.0, 0.0)
    assert verdict(d.difference, d.interval, spread_of_values([0.5, 0.52, 0.49])).status == "within noise"


def test_runs_on_different_clips_are_a_clear_error(pair):
    a, b, _ = pair
    fewer = FakeRun(b.predictions.iloc[2:].reset_index(drop=True), b.config)
    with pytest.raises(ValueError, match="not on the same clips"):
        paired_bootstrap_f1(a, fewer, names=("full", "no_cl"))
    relabelled = b.predictions.copy()
    relabelled.loc[0, "label"] = 1 - relabelled.loc[0, "label"]
    with pytest.raises(ValueError, match="labels"):
        paired_bootstrap_f1(a, FakeRun(relabelled, b.config))


def test_subject_bootstrap_of_a_mean():
    subjects = ["a", "a", "b", "c"]
    values = np.array([1.0, 3.0, 10.0, 20.0])
    value, low, high = subject_bootstrap(subjects, lambda idx: values[idx].mean(), n_boot=400, seed=1)
    assert value == pytest.approx(8.5)
    # every resample's clip mean lies between the all-'a' (2) and all-'c' (20) extremes
    assert 2.0 <= low < value < high <= 20.0
    w = subject_resamples(3, 400, seed=1)
    assert w.shape == (400, 3) and (w.sum(1) == 3).all()


def test_seed_spread_checks_that_only_the_seed_differs(pair):
    a, _, _ = pair
    runs = [FakeRun(a.predictions, a.config.replace(seed=s)) for s in (1, 2, 3)]
    s = seed_spread(runs, metric=lambda r: 0.1 * r.config.seed)
    assert (s.mean, s.min, s.max, s.n, s.seeds) == (pytest.approx(0.2), 0.1, pytest.approx(0.3), 3, (1, 2, 3))
    assert s.std == pytest.approx(0.1)
    assert seed_spread(runs).mean == pytest.approx(a.f1)
    with pytest.raises(ValueError, match="epochs"):
        seed_spread(runs + [FakeRun(a.predictions, a.config.replace(seed=9, epochs=99))])
    with pytest.raises(ValueError, match="share seeds"):
        seed_spread(runs + [runs[0]])
    assert np.isnan(spread_of_values([0.5]).std) and np.isnan(seed_band(spread_of_values([0.5])))


def test_verdict_needs_both_the_interval_and_the_seed_band():
    spread = spread_of_values([0.50, 0.51, 0.49, 0.50, 0.50])  # std 0.00707 -> band 0.02
    assert seed_band(spread) == pytest.approx(2 * np.sqrt(2) * spread.std)
    assert verdict(0.05, (0.02, 0.08), spread).status == "a > b"
    assert verdict(-0.05, (-0.08, -0.02), spread).status == "a < b"
    assert verdict(0.05, (-0.01, 0.08), spread).status == "within noise"  # interval has 0
    v = verdict(0.015, (0.005, 0.03), spread)  # outside the interval, inside the band
    assert v.status == "within noise" and v.outside_interval and v.outside_band is False
    assert verdict(0.05, (0.02, 0.08), None).status == "unjudged"
    assert verdict(0.05, (0.02, 0.08), None, require_seed_spread=False).status == "a > b"
    assert verdict(float("nan"), (0.0, 0.1), spread).status == "within noise"


def test_sentences_state_a_direction_only_outside_noise():
    spread = spread_of_values([0.50, 0.51, 0.49, 0.50, 0.50])
    big = verdict(0.05, (0.02, 0.08), spread)
    small = verdict(0.01, (-0.01, 0.03), spread)
    assert direction_sentence("full", "no CL", big).startswith("ours: full > no CL in mean F1, by +0.050")
    s = direction_sentence("full", "no CL", small)
    assert "within noise" in s and ">" not in s.split("(")[0] and "interval contains 0" in s
    assert "no direction is claimed" in direction_sentence("a", "b", verdict(0.05, (0.02, 0.08), None))
    assert "agrees" in agreement_with_paper("MiAUCL", "local", 0.782, 0.756, big)
    assert "reverses" in agreement_with_paper("MiAUCL", "local", 0.756, 0.782, big)
    assert "neither confirms nor contradicts" in agreement_with_paper("MiAUCL", "local", 0.782, 0.756, small)
    assert "nothing to agree" in agreement_with_paper("a", "b", None, 0.7, big)
    assert claim_sentence("attention lies on the AU region", "share", "uniform", big).startswith("Holds")
    assert claim_sentence("x", "s", "u", small).startswith("Within noise")
    assert "paired" not in claim_sentence("x", "s", "u", big) and "paired" in direction_sentence("a", "b", big)
    assert "r = +0.050" in claim_sentence("x", "r", None, big)
    assert claim_sentence("x", "s", "u", verdict(-0.05, (-0.08, -0.02), spread)).startswith("Does not hold")


def test_ordering_sentence_marks_only_separated_neighbours():
    spread = spread_of_values([0.50, 0.51, 0.49, 0.50, 0.50])
    values = {"full": 0.80, "no CL": 0.70, "local": 0.79}
    adjacent = {("full", "local"): verdict(0.01, (-0.01, 0.03), spread),
                ("no CL", "local"): verdict(-0.09, (-0.12, -0.05), spread)}  # given the other way round
    s = ordering_sentence(values, adjacent)
    assert "full (0.800) ≈ local (0.790) > no CL (0.700)" in s


def test_paired_verdict_on_fakes(pair):
    a, b, _ = pair
    diff, v = paired_verdict(a, b, spread_of_values([0.60, 0.61, 0.59, 0.60, 0.61]), n_boot=300)
    assert isinstance(v, Verdict) and v.difference == pytest.approx(diff.difference)
    assert diff.difference > 0.2 and v.status == "a > b"
    assert isinstance(spread_of_values([1.0, 2.0]), SeedSpread)


def test_nested_components_recover_backbone_and_seed_variance():
    """A grid built as backbone effect + seed noise: the method-of-moments components find both
    (exactly, on a grid constructed so that the sample moments equal the design)."""
    from microau.noise import nested_components, spread_of_grid

    backbone = {0: -0.1, 1: 0.0, 2: 0.1}  # sample variance 0.01
    seed = {1: -0.02, 2: 0.02}  # within-backbone sample variance 0.0008
    grid = {(b, s): 0.5 + backbone[b] + seed[s] for b in backbone for s in seed}
    bvar, svar = nested_components(grid)
    assert svar == pytest.approx(0.0008, abs=1e-12)
    # variance of backbone means (0.01) minus seed_var / 2 seeds
    assert bvar == pytest.approx(0.01 - 0.0004, abs=1e-12)
    spread = spread_of_grid(grid)
    assert spread.std == pytest.approx((bvar + svar) ** 0.5)
    assert spread.covers_backbones and spread.describe() == "3 backbones × 2 seeds"


def test_one_backbone_grid_is_a_seed_spread():
    from microau.noise import spread_of_grid, spread_of_values

    values = [0.5, 0.52, 0.47, 0.55]
    grid = {(0, s): v for s, v in zip(range(1, 5), values)}
    spread = spread_of_grid(grid)
    assert not spread.covers_backbones
    assert spread.std == pytest.approx(spread_of_values(values).std)
    assert spread.describe() == "4 seeds"


def test_backbone_variance_widens_the_band_and_changes_a_verdict():
    """A difference outside the seed-only band falls within noise once backbone draws count."""
    from microau.noise import spread_of_grid, verdict

    seeds_only = spread_of_grid({(0, s): 0.60 + 0.004 * k for k, s in enumerate((1, 2, 3))})
    with_backbones = spread_of_grid({(b, s): 0.60 + 0.05 * b + 0.004 * k
                                     for b in (0, 1, 2) for k, s in enumerate((1, 2, 3))})
    assert with_backbones.std > 5 * seeds_only.std
    assert verdict(0.05, (0.02, 0.08), seeds_only).status == "a > b"
    v = verdict(0.05, (0.02, 0.08), with_backbones)
    assert v.status == "within noise" and v.over == "3 backbones × 3 seeds"


def test_draw_keys_name_backbone_and_seed_and_keep_plain_seeds():
    from microau.draws import draw_key, split_draw

    assert draw_key(0, 3) == 3 and split_draw(3) == (0, 3)
    assert split_draw(draw_key(2, 5)) == (2, 5)
    with pytest.raises(ValueError):
        draw_key(0, 100)


def test_spread_of_draws_uses_the_grid_only_when_backbones_vary():
    from microau.draws import draw_key, spread_of_draws
    from microau.noise import spread_of_values

    seeds_only = {1: 0.5, 2: 0.6, 3: 0.7}
    assert spread_of_draws(seeds_only) == spread_of_values([0.5, 0.6, 0.7], [1, 2, 3])
    grid = {draw_key(b, s): 0.5 + 0.2 * b + 0.01 * s for b in (0, 1, 2) for s in (1, 2)}
    sp = spread_of_draws(grid)
    assert sp.covers_backbones and sp.n == 6
    assert sp.backbone_var > 10 * sp.seed_var  # the backbones, 0.2 apart, dominate
    assert sp.describe() == "3 backbones × 2 seeds"


def test_seed_page_trains_the_full_model_on_every_backbone_draw():
    from microau.book import manifest
    from microau.draws import split_draw
    from microau.runs import seed_run_configs

    runs = manifest.page("seed_spread").seed_runs(["phantom-casme2", "phantom-samm"])
    full = {(d, split_draw(k)) for v, d, k in runs if v == "full"}
    assert {b for _, (b, _) in full} == {0, 1, 2}
    assert all(split_draw(k)[0] == 0 for v, _, k in runs if v != "full")
    quick = seed_run_configs("seed_spread", ["phantom-samm"], "quick")
    assert {c.backbone_seed for (v, _, _), c in quick.items() if v == "full"} == {0, 1, 2}
    # no pretrained backbone: every draw is the same run, so only draw 0 is kept
    scratch = seed_run_configs("seed_spread", ["phantom-samm"], "quick-scratch")
    assert all(split_draw(k)[0] == 0 for (_, _, k) in scratch)
    assert len(scratch) == len({k for k in scratch})
