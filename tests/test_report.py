"""The reporting layer on small hand-made run results: labels, statistics, tables and sentences.
No training: each fake run is a few rows of predictions whose scores can be worked out by hand."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from microau import report
from microau.config import make_config
from microau.runs import Runs


def fake_run(labels, preds, subjects=None, aus=(1, 2), dataset="phantom-samm", variant="full",
             emotions=None, mer_pred=None):
    """A run result with the attributes the report reads (predictions, metrics, mer, meta, config)."""
    labels, preds = np.asarray(labels), np.asarray(preds)
    m = len(labels)
    subjects = subjects or [f"s{i % 3}" for i in range(m)]
    rows = []
    for i in range(m):
        for n, au in enumerate(aus):
            rows.append((f"c{i}", subjects[i], 0, f"AU{au}", int(labels[i, n]), float(preds[i, n]),
                         int(preds[i, n])))
    predictions = pd.DataFrame(rows, columns=["id", "subject", "fold", "au", "label", "prob", "pred"])
    f1s, accs = [], []
    for n in range(len(aus)):
        y, q = labels[:, n], preds[:, n]
        tp = int((y * q).sum())
        denom = int(y.sum() + q.sum())
        f1s.append(2 * tp / denom if denom else 0.0)
        accs.append(float((y == q).mean()))
    metrics = pd.DataFrame({"au": [f"AU{a}" for a in aus] + ["mean"],
                            "f1": f1s + [float(np.mean(f1s))], "acc": accs + [float(np.mean(accs))]})
    emotions = emotions or [""] * m
    mer = pd.DataFrame({"id": [f"c{i}" for i in range(m)], "subject": subjects, "emotion3": emotions,
                        "pred": mer_pred or emotions})
    return SimpleNamespace(
        predictions=predictions, metrics=metrics, mer=mer, mer_metrics={"available": False},
        f1=float(np.mean(f1s)), acc=float(np.mean(accs)),
        meta={"source": "phantom", "n_clips": m, "n_subjects": len(set(subjects)), "aus": list(aus),
              "device": "cpu", "git_commit": "abc"},
        config=make_config("smoke", variant, dataset=dataset))


PERFECT = fake_run([[1, 0], [0, 1], [1, 1], [0, 0]], [[1, 0], [0, 1], [1, 1], [0, 0]])
HALF = fake_run([[1, 0], [0, 1], [1, 1], [0, 0]], [[1, 1], [0, 0], [1, 0], [0, 1]])


def test_labels_name_the_source_of_every_column():
    assert report.ours_label("phantom-casme2") == "ours · phantom-casme2"
    assert report.ours_label("casme2") == "ours · CASME II"
    assert report.paper_label("phantom-samm") == "paper · SAMM"
    assert report.paper_group_for("ours · phantom-casme2") == "paper · CASME II"
    assert report.paper_group_for("ours · SAMM") == "paper · SAMM"


def test_fake_run_scores_are_the_hand_computed_ones():
    assert PERFECT.f1 == 1.0 and PERFECT.acc == 1.0
    # HALF: AU1 predicted right on every clip; AU2 wrong on every clip -> F1 (1 + 0) / 2
    assert HALF.f1 == pytest.approx(0.5) and HALF.acc == pytest.approx(0.5)


def test_bootstrap_se_is_zero_for_a_perfect_run_and_positive_otherwise():
    always = fake_run([[1, 1]] * 6, [[1, 1]] * 6)  # every resample has positives: F1 stays 1
    assert report.f1_bootstrap_se(always) == 0.0
    assert report.f1_bootstrap_se(HALF) > 0.0
    assert report.f1_bootstrap_se(HALF, seed=3) == report.f1_bootstrap_se(HALF, seed=3)  # deterministic


def test_pairwise_agreement_counts_ordered_pairs():
    paper = pd.Series([0.7, 0.8, 0.9], index=["a", "b", "c"])
    same, total, tau = report.pairwise_agreement(paper, pd.Series([0.1, 0.2, 0.3], index=paper.index))
    assert (same, total) == (3, 3) and tau == pytest.approx(1.0)
    same, total, tau = report.pairwise_agreement(paper, pd.Series([0.3, 0.2, 0.1], index=paper.index))
    assert (same, total) == (0, 3) and tau == pytest.approx(-1.0)
    # a tie in the paper is not a pair the paper orders; a tie in ours agrees with nothing
    same, total, _ = report.pairwise_agreement(pd.Series([0.7, 0.7, 0.9]), pd.Series([0.5, 0.5, 0.5]))
    assert (same, total) == (0, 2)


def test_majority_scores_and_chance_on_a_small_mer_frame():
    run = fake_run([[1, 0]] * 4, [[1, 0]] * 4, emotions=["positive", "positive", "negative", ""])
    chance = report.mer_chance(run)
    assert chance["n"] == 3 and chance["majority_acc"] == pytest.approx(2 / 3)
    assert chance["random_uar"] == pytest.approx(1 / 2)
    maj = report.majority_scores(run)
    assert maj["acc"] == pytest.approx(2 / 3)


def test_comparison_puts_paper_and_ours_side_by_side():
    runs = Runs(results={(v, "phantom-samm"): PERFECT if v == "table2/lsi_gsd" else HALF
                         for v in ("table2/lsi_only", "table2/gsd_only", "table2/lsi_gsd")},
                datasets=("phantom-samm",), profile="smoke")
    long = report.comparison("table2", runs, bootstrap=False)
    f1 = long[long.metric == "f1"].set_index("variant")
    assert f1.loc["table2/lsi_gsd", "ours"] == 1.0 and f1.loc["table2/gsd_only", "ours"] == 0.5
    assert f1.paper.notna().all()
    wide = report.comparison_table(long)
    groups = set(wide.columns.get_level_values(0))
    assert groups == {"paper · SAMM", "ours · phantom-samm"}


def _big(correct: float, seed: int = 0):
    """12 clips of 4 subjects, 2 AUs; each prediction right with probability ``correct``."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, (12, 2))
    wrong = rng.random((12, 2)) > correct
    return fake_run(labels, np.where(wrong, 1 - labels, labels), subjects=[f"s{i // 3}" for i in range(12)])


def test_verdicts_state_a_direction_only_outside_the_noise():
    from microau import noise

    good, bad = _big(1.0), _big(0.0)
    runs = Runs(results={("table2/lsi_gsd", "phantom-samm"): good, ("table2/lsi_only", "phantom-samm"): bad},
                datasets=("phantom-samm",), profile="smoke")
    tight = noise.spread_of_values([0.80, 0.81, 0.80])
    loose = noise.spread_of_values([0.1, 0.9, 0.5])
    v = report.row_verdicts("table2", runs, {"phantom-samm": tight})
    row = v.set_index("_variant").loc["table2/lsi_only"]
    assert row["ours: row − reference"] == pytest.approx(bad.f1 - good.f1)
    assert row["verdict"] == "row below reference"
    assert "agrees" in report.describe_verdicts(v) or "same direction" in report.describe_verdicts(v)
    v = report.row_verdicts("table2", runs, {"phantom-samm": loose})
    assert v.set_index("_variant").loc["table2/lsi_only", "verdict"] == "within noise"
    assert "within noise" in report.describe_verdicts(v)
    v = report.row_verdicts("table2", runs, {"phantom-samm": None})
    assert v.set_index("_variant").loc["table2/lsi_only", "verdict"].startswith("not judged")


def test_agreement_with_the_paper_is_counted_per_data_set():
    """The paper puts LSI ✓ / GSD × below LSI ✓ / GSD ✓: a run that is worse there beyond noise
    holds, one that is better beyond noise reverses it, and the counts say so."""
    from microau import noise
    from microau.report.tally import page_tally
    from microau.report.verdicts import agreement_counts, counts_words, paper_agreement

    good, bad = _big(1.0), _big(0.0)
    tight = {"phantom-samm": noise.spread_of_values([0.80, 0.81, 0.80])}
    holds = Runs(results={("table2/lsi_gsd", "phantom-samm"): good, ("table2/lsi_only", "phantom-samm"): bad},
                 datasets=("phantom-samm",), profile="smoke")
    v = report.row_verdicts("table2", holds, tight)
    assert v.set_index("_variant").loc["table2/lsi_only", "agreement"] == "holds"
    assert agreement_counts(v) == {"ours · phantom-samm": {"holds": 1}}
    assert page_tally("table2_ablation", holds, v).words() == "*ours · phantom-samm*: 1 holds"
    flipped = Runs(results={("table2/lsi_gsd", "phantom-samm"): bad, ("table2/lsi_only", "phantom-samm"): good},
                   datasets=("phantom-samm",), profile="smoke")
    v = report.row_verdicts("table2", flipped, tight)
    assert v.set_index("_variant").loc["table2/lsi_only", "agreement"] == "reversed"
    within = noise.verdict(0.01, (-0.1, 0.1), tight["phantom-samm"])
    assert paper_agreement(within, 0.7, 0.8) == "within noise"
    assert paper_agreement(within, 0.8, 0.8) is None  # the paper ties: nothing to agree with
    assert paper_agreement(noise.verdict(0.3, (0.1, 0.4), None), 0.9, 0.8) == "not judged"
    assert counts_words({"holds": 2, "within noise": 1}) == "2 hold, 1 within noise"


def test_seed_runs_are_matched_by_computation_not_by_variant_name():
    from types import SimpleNamespace

    from microau.config import make_config
    from microau.report.sentences import seed_runs_like

    def run(variant, dataset, seed):
        return SimpleNamespace(config=make_config("smoke", variant, dataset=dataset).replace(seed=seed))

    seed_runs = {(v, d, s): run(v, d, s) for v in ("full", "table8/no_cl")
                 for d in ("phantom-casme2", "phantom-samm") for s in (1, 2, 3)}
    miaucl = run("table8/miaucl", "phantom-samm", 1)  # the same computation as 'full'
    found = seed_runs_like(seed_runs, miaucl, "phantom-samm")
    assert sorted(found) == [1, 2, 3]
    assert all(r.config.variant == "full" and r.config.dataset == "phantom-samm" for r in found.values())
    assert sorted(seed_runs_like(seed_runs, run("table8/no_cl", "phantom-samm", 1), "phantom-samm")) == [1, 2, 3]
    assert seed_runs_like(seed_runs, run("table8/local_origcl", "phantom-samm", 1), "phantom-samm") == {}
    assert seed_runs_like(None, miaucl, "phantom-samm") == {}


def test_rows_that_are_one_computation_are_said_to_share_a_run():
    from types import SimpleNamespace

    from microau.report.sentences import describe_shared_runs
    from microau.runs import Runs

    same, other = SimpleNamespace(run_dir="/runs/abc"), SimpleNamespace(run_dir="/runs/def")
    runs = Runs(results={("table7/gda", "phantom-samm"): same, ("full", "phantom-samm"): same,
                         ("table7/add_mlp", "phantom-samm"): other},
                datasets=("phantom-samm",), profile="smoke")
    text = describe_shared_runs(runs, {"table7/gda": "GDA"})
    assert "*GDA* and *full* are one computation" in text and "add_mlp" not in text
    assert "gsd=" not in text.split("GDA:")[1].split(";")[0]  # GDA sets nothing: the full model's settings
    alone = Runs(results={("full", "phantom-samm"): same, ("table7/add_mlp", "phantom-samm"): other},
                 datasets=("phantom-samm",), profile="smoke")
    assert describe_shared_runs(alone) == ""
