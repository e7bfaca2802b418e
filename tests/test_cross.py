"""Issue 25: evaluation across data sets. Folds of a composite (by subject, by set, one set held
out), clips never trained on (emotion-only) or never tested, per-set scores with intervals, the
paired comparison per set, and the command line end to end on two small phantoms."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from types import SimpleNamespace

from microau import cross
from microau.cli import main
from microau.config import make_config
from microau.train.data import TrainData, fold_groups
from microau.train.loso import run_loso


def test_plans_say_which_folds_and_refuse_what_cannot_be_evaluated():
    p = cross.plan("train-test", ["casme2"], "samm")
    assert (p.dataset, p.holdout) == ("casme2+samm", "samm")
    assert cross.plan("train-test", ["casme2", "casme3"], "samm").dataset == "casme2+casme3+samm"
    assert cross.plan("loso", ["casme2", "samm"]).holdout == "subject"
    assert cross.plan("leave-one-dataset-out", ["casme2", "samm", "mmew"]).holdout == "dataset"
    with pytest.raises(ValueError, match="both trained and tested"):
        cross.plan("train-test", ["casme2"], "casme2")
    with pytest.raises(ValueError, match="at least two data sets"):
        cross.plan("loso", ["casme2"])
    with pytest.raises(ValueError, match="no part codes action units"):
        cross.plan("loso", ["smic", "phantom-smic"])
    with pytest.raises(ValueError, match="unknown dataset"):
        cross.plan("loso", ["casme2", "casme9"])


def test_fold_groups_for_each_holdout():
    subjects = ["a:1", "a:2", "b:1", "b:1"]
    part_of = ["a", "a", "b", "b"]
    assert fold_groups("subject", "casme2+samm", subjects, part_of) == subjects
    assert fold_groups("dataset", "casme2+samm", subjects, ["casme2", "casme2", "samm", "samm"]) == \
        ["casme2", "casme2", "samm", "samm"]
    assert fold_groups("samm", "casme2+samm", subjects, ["casme2", "casme2", "samm", "samm"]) == \
        ["", "", "samm", "samm"]
    with pytest.raises(ValueError, match="not a part of casme2\\+samm"):
        fold_groups("mmew", "casme2+samm", subjects, part_of)


@pytest.fixture(scope="module")
def held_out_data():
    """12 synthetic clips: 4 trained only, 4 tested with AUs coded, 4 tested without (emotion only)."""
    d = TrainData.synthetic(n_subjects=3, clips_per_subject=4, seed=3)
    d.subjects = ["x:s1"] * 4 + ["y:s2"] * 4 + ["z:s3"] * 4
    d.ids = [f"{s}/c{i}" for i, s in enumerate(d.subjects)]
    d.groups = [""] * 4 + ["y"] * 4 + ["z"] * 4
    d.coded = [True] * 8 + [False] * 4
    return d


def test_uncoded_clips_are_never_trained_on_and_untested_ones_never_scored(held_out_data):
    d = held_out_data
    assert d.fold_subjects == ["y", "z"]
    assert d.subject_index("y", test=True).tolist() == [4, 5, 6, 7]
    assert d.subject_index("y", test=False).tolist() == [0, 1, 2, 3]  # z's clips are not AU-coded
    assert d.subject_index("z", test=False).tolist() == list(range(8))
    assert d.scored().tolist() == [False] * 4 + [True] * 4 + [False] * 4


def test_a_held_out_run_scores_only_tested_coded_clips(held_out_data, tmp_path):
    cfg = make_config("smoke", "full", dataset="phantom-casme2", epochs=1)
    result = run_loso(cfg, runs_dir=tmp_path, data=held_out_data, progress=False)
    assert sorted(result.predictions.id.unique()) == held_out_data.ids[4:8]
    assert sorted(result.mer.id) == sorted(held_out_data.ids[4:])  # every tested clip has an emotion score
    n_pos = int(held_out_data.labels[4:8].sum())
    assert int(result.metrics.set_index("au").loc["mean", "n_pos"]) == n_pos
    assert result.meta["folds"] == ["y", "z"] and result.meta["n_scored"] == 4


def _predictions(rows):
    return pd.DataFrame(rows, columns=["id", "subject", "fold", "au", "label", "prob", "pred"])


def test_scores_per_set_and_pooled_with_intervals():
    rows = []
    for k in range(4):  # set a: every AU found; set b: every AU missed
        for s, right in (("a", True), ("b", False)):
            sid = f"{s}:s{k % 2}"
            rows += [(f"{sid}/c{k}", sid, 0, "AU4", 1, 0.9, int(right)), (f"{sid}/c{k}", sid, 0, "AU7", 0, 0.1, 0)]
    run = SimpleNamespace(config=SimpleNamespace(dataset="a+b"), predictions=_predictions(rows),
                          mer=pd.DataFrame(columns=["id", "subject", "emotion3"]))
    table = cross.scores_by_set(run).set_index("set")
    assert list(table.index) == ["a", "b", "pooled"]
    assert table.loc["a", "f1"] == pytest.approx(0.5) and table.loc["b", "f1"] == 0.0  # AU7 never present: 0
    assert 0 < table.loc["pooled", "f1"] < 0.5
    assert table.loc["a", "subjects"] == 2 and table.loc["pooled", "clips"] == 8
    for r in table.itertuples():
        assert r.low <= r.f1 <= r.high
    worse = SimpleNamespace(config=run.config, predictions=_predictions(
        [(i, s, f, au, y, p, 0) for i, s, f, au, y, p, _ in rows]))
    paired = cross.paired_by_set(run, worse, ("one", "other")).set_index("set")
    assert paired.loc["a", "difference"] == pytest.approx(0.5) and paired.loc["b", "difference"] == 0.0
    assert "within noise" in paired.loc["b", "verdict"] and paired.loc["b", "verdict"].startswith("On b:")
    assert "seed spread not measured" in paired.loc["a", "verdict"]


def test_single_set_digests_are_those_of_the_paper_sets():
    """A run on CASME II or SAMM keeps its data digest (and so its run directory)."""
    from microau.aus import DATASET_AUS
    from microau.data.registry import prep_settings_for, samples_for
    from microau.train.datakey import digest_for, samples_digest

    for name in ("phantom-casme2", "phantom-samm"):
        cfg = make_config("smoke", "full", dataset=name)
        assert digest_for(cfg) == samples_digest(name, samples_for(cfg), DATASET_AUS[name[8:]], prep_settings_for(cfg))


@pytest.mark.slow
def test_train_on_one_set_test_on_another_from_the_command_line(tmp_path, capsys):
    args = ["loso", "--profile", "smoke", "--train", "phantom-casme2", "--test", "phantom-samm", "--subjects", "2",
            "--epochs", "1", "--runs", str(tmp_path), "--no-progress"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "phantom-casme2 -> phantom-samm" in out and "AUs every AU-coded set scores: 2, 4, 7, 12" in out
    table = out.split("per data set")[1]
    assert "phantom-samm" in table and "phantom-casme2 " not in table  # only the test set is scored
    (run_dir,) = (tmp_path / "phantom-casme2+phantom-samm" / "smoke").iterdir()
    preds = pd.read_csv(run_dir / "predictions.csv")
    assert preds.subject.str.startswith("phantom-samm:").all() and set(preds.au) == {"AU2", "AU4", "AU7", "AU12"}
    done = (run_dir / "DONE").stat().st_mtime_ns
    assert main(args) == 0  # read back, not trained again
    assert (run_dir / "DONE").stat().st_mtime_ns == done
    capsys.readouterr()
    assert len(list((tmp_path / "phantom-casme2+phantom-samm" / "smoke").iterdir())) == 1
    assert main(["loso", "--profile", "smoke", "--dataset", "phantom-smic", "--runs", str(tmp_path)]) == 2
    assert "label-free emotion recognition" in capsys.readouterr().err
    assert main(["loso", "--train", "phantom-casme2", "--runs", str(tmp_path)]) == 2
    assert "--train and --test go together" in capsys.readouterr().err
    np.testing.assert_array_equal(sorted(preds.fold.unique()), [0])
