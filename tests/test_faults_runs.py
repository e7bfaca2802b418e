"""The run store under damage (issue 14, cases 2, 4, 5 and 7): stale data, truncated fold files,
damaged finished runs, untrainable settings. Each test damages files the way a disk, a crash or a
careless edit would, and checks that the tool reports the file and recovers, without a traceback."""
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from microau.config import make_config
from microau.train.data import TrainData
from microau.train.loso import OUTPUTS, RunResult, fold_file, run_dir_for, run_loso
from microau.train.store import DamagedRunError, sha256_of

PHANTOM_4 = Path.home() / ".cache" / "microau" / "phantom" / "casme2-seed0-4subj"


@pytest.fixture(scope="module")
def data():
    return TrainData.synthetic(n_subjects=3, clips_per_subject=6, seed=3)


def _cfg(**kw):
    return make_config("smoke", "full", dataset="phantom-casme2", **{"epochs": 1, **kw})


def _truncate(path: Path, keep: float = 1 / 3) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep)])


# --- case 2: a run's key covers the data it was trained on -----------------------------------

@pytest.fixture
def phantom_copy(tmp_path):
    """A user's copy of the 4-subject phantom (its frames have the same bytes, so the preparation
    cache serves it)."""
    from microau.data.registry import root_for

    source = PHANTOM_4 if PHANTOM_4.is_dir() else root_for(_cfg(), progress=False)
    return Path(shutil.copytree(source, tmp_path / "my_casme2"))


def _set_au_cell(root: Path, clip: str, value: str) -> None:
    import openpyxl

    sheet = next(root.glob("CASME2-coding-*.xlsx"))
    wb = openpyxl.load_workbook(sheet)
    ws = wb.active
    header = [c.value for c in ws[1]]
    col_file, col_au = header.index("Filename") + 1, header.index("Action Units") + 1
    rows = [r for r in range(2, ws.max_row + 1) if ws.cell(r, col_file).value == clip]
    assert len(rows) == 1, clip
    ws.cell(rows[0], col_au).value = value
    wb.save(sheet)


def test_a_corrected_au_cell_trains_a_new_run_instead_of_reading_the_old_one(tmp_path, phantom_copy, caplog):
    cfg = _cfg(data_root=str(phantom_copy))
    runs = tmp_path / "runs"
    before = run_loso(cfg, runs_dir=runs, progress=False)
    row = before.predictions.query("id == 'sub01/EP08_01f' and au == 'AU12'")
    assert row.label.tolist() == [0]

    _set_au_cell(phantom_copy, "EP08_01f", "4+7+12")  # the user corrects the sheet
    caplog.set_level(logging.INFO, logger="microau")
    after = run_loso(cfg, runs_dir=runs, progress=False)  # the same command again

    assert after.run_dir != before.run_dir and after.run_dir == run_dir_for(cfg, runs)
    assert after.predictions.query("id == 'sub01/EP08_01f' and au == 'AU12'").label.tolist() == [1]
    assert "trained on other data" in caplog.text and before.run_dir.name in caplog.text
    assert RunResult.load(before.run_dir).meta["data_digest"] != after.meta["data_digest"]


def test_the_data_digest_covers_frame_indices_labels_and_preparation_settings():
    from microau.data.types import Sample
    from microau.prep.pipeline import PrepSettings
    from microau.train.datakey import samples_digest

    def sample(**kw):
        values = dict(dataset="casme2", subject="sub01", clip="EP01", onset_frame=10, apex_frame=20,
                      onset_path=Path("a"), apex_path=Path("b"), aus=frozenset({4}), emotion="disgust",
                      emotion3="negative")
        return Sample(**{**values, **kw})

    aus = (1, 2, 4, 7, 12, 14, 15, 17)
    base = samples_digest("casme2", [sample()], aus, PrepSettings())
    changed = [
        samples_digest("casme2", [sample(apex_frame=21)], aus, PrepSettings()),
        samples_digest("casme2", [sample(onset_frame=11)], aus, PrepSettings()),
        samples_digest("casme2", [sample(aus=frozenset({4, 12}))], aus, PrepSettings()),
        samples_digest("casme2", [sample(clip="EP02")], aus, PrepSettings()),
        samples_digest("casme2", [sample(emotion3="positive")], aus, PrepSettings()),
        samples_digest("casme2", [sample()], aus, PrepSettings(magnify="none")),
        samples_digest("casme2", [sample()], aus, PrepSettings(magnify_factor=2.0)),
    ]
    assert len({base, *changed}) == 1 + len(changed)
    # where the frames live is not what a run is trained on: a moved copy keeps its runs
    assert samples_digest("casme2", [sample(onset_path=Path("/elsewhere/a"))], aus, PrepSettings()) == base


# --- case 4: fold files -------------------------------------------------------------------------

def test_a_truncated_fold_file_is_reported_by_path_and_its_fold_trained_again(tmp_path, data, caplog):
    cfg = _cfg()
    whole = run_loso(cfg, runs_dir=tmp_path / "whole", data=data, progress=False, fold_chunk=1)
    with pytest.raises(RuntimeError, match="not trained yet"):
        run_loso(cfg, runs_dir=tmp_path / "cut", data=data, progress=False, max_folds=2, fold_chunk=1)
    run_dir = run_dir_for(cfg, tmp_path / "cut", data=data)
    damaged = fold_file(run_dir, 1)
    _truncate(damaged)  # the machine died while the file was being copied
    kept = fold_file(run_dir, 0).stat().st_mtime_ns

    caplog.set_level(logging.WARNING, logger="microau")
    resumed = run_loso(cfg, runs_dir=tmp_path / "cut", data=data, progress=False, fold_chunk=1)

    assert str(damaged) in caplog.text and "trained again" in caplog.text
    assert fold_file(run_dir, 0).stat().st_mtime_ns == kept  # the whole fold file was reused
    assert resumed.predictions.equals(whole.predictions)  # nothing half-read: the same bits


def test_fold_files_are_written_to_a_temporary_name_and_renamed(tmp_path, data, monkeypatch):
    """A crash in the middle of writing a fold file leaves no fold file (and no temporary one)."""
    cfg = _cfg()
    real = np.savez_compressed

    def dies_half_way(file, *args, **kwargs):
        real(file, *args, **kwargs)
        if hasattr(file, "truncate"):
            file.truncate(100)  # what was on disk when the process died
        else:
            Path(file).write_bytes(Path(file).read_bytes()[:100])
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez_compressed", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        run_loso(cfg, runs_dir=tmp_path, data=data, progress=False, fold_chunk=1)
    monkeypatch.setattr(np, "savez_compressed", real)
    folds = run_dir_for(cfg, tmp_path, data=data) / "folds"
    assert sorted(p.name for p in folds.iterdir()) == []
    # and the next call trains from scratch without complaint
    assert len(run_loso(cfg, runs_dir=tmp_path, data=data, progress=False).predictions) == \
        data.labels.numel()


# --- case 5: every output verified on read-back ----------------------------------------------

@pytest.fixture(scope="module")
def finished(tmp_path_factory, data):
    runs = tmp_path_factory.mktemp("finished")
    result = run_loso(_cfg(), runs_dir=runs, data=data, progress=False)
    return runs, result


def test_done_records_size_and_sha256_of_every_output(finished):
    _, result = finished
    record = json.loads((result.run_dir / "DONE").read_text())
    assert set(record["outputs"]) == set(OUTPUTS)
    for name, entry in record["outputs"].items():
        path = result.run_dir / name
        assert entry == {"size": path.stat().st_size, "sha256": sha256_of(path)}


@pytest.mark.parametrize("name", OUTPUTS)
def test_a_damaged_finished_run_is_reported_by_path_and_trained_again(tmp_path, finished, data, name, caplog):
    runs, result = finished
    copy = tmp_path / "runs"
    shutil.copytree(runs, copy)
    run_dir = copy / result.run_dir.relative_to(runs)
    target = run_dir / name
    if name == "config.yaml":  # a careless edit rather than a truncation
        target.write_text(target.read_text().replace("seed: 1", "seed: 2"))
    else:
        _truncate(target, keep=0.5)

    with pytest.raises(DamagedRunError) as err:
        RunResult.load(run_dir)
    assert str(target) in str(err.value)

    caplog.set_level(logging.WARNING, logger="microau")
    again = run_loso(_cfg(), runs_dir=copy, data=data, progress=False)
    assert str(target) in caplog.text and "training it again" in caplog.text
    assert again.run_dir == run_dir
    reread = RunResult.load(run_dir)  # whole again, and verified
    assert reread.metrics.equals(RunResult.load(result.run_dir).metrics)
    assert reread.predictions.equals(RunResult.load(result.run_dir).predictions)
    assert reread.metrics.au.tolist()[-1] == "mean"


def test_a_done_marker_without_checksums_is_not_taken_for_a_finished_run(tmp_path, finished, data, caplog):
    runs, result = finished
    copy = tmp_path / "runs"
    shutil.copytree(runs, copy)
    run_dir = copy / result.run_dir.relative_to(runs)
    (run_dir / "DONE").write_text("2026-11-21 10:00:00")  # an older version's marker
    with pytest.raises(DamagedRunError, match="checksums"):
        RunResult.load(run_dir)
    caplog.set_level(logging.WARNING, logger="microau")
    assert run_loso(_cfg(), runs_dir=copy, data=data, progress=False).metrics.equals(
        RunResult.load(result.run_dir).metrics)
    assert "DONE" in caplog.text


def test_the_pool_retrains_a_damaged_finished_run(tmp_path, finished, data):
    from microau.train.pool import train_runs

    runs, result = finished
    copy = tmp_path / "runs"
    shutil.copytree(runs, copy)
    run_dir = copy / result.run_dir.relative_to(runs)
    _truncate(run_dir / "predictions.csv")
    trained = train_runs([_cfg()], copy, jobs=1, progress=False, data=data)
    assert trained[0].seconds is not None  # trained again, not skipped as done
    assert RunResult.load(run_dir).predictions.equals(RunResult.load(result.run_dir).predictions)


# --- case 7: untrainable settings and progress bars ---------------------------------------------

def test_zero_epochs_is_refused_with_a_clear_message(tmp_path, capsys, data):
    from microau.cli import main

    code = main(["loso", "--profile", "smoke", "--epochs", "0", "--no-progress", "--runs", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and ("epochs=0" in err or "--epochs 0" in err) and "at least one epoch" in err
    assert not any(tmp_path.rglob("DONE"))
    with pytest.raises(ValueError, match="at least one epoch"):
        run_loso(_cfg(epochs=-1), runs_dir=tmp_path, data=data, progress=False)


def test_no_progress_reaches_the_phantom_writer(monkeypatch):
    import microau.data.phantom as phantom
    from microau.train.data import load_train_data

    seen = []
    real = phantom.ensure_phantom

    def recording(*args, **kwargs):
        seen.append(kwargs.get("progress", True))
        return real(*args, **kwargs)

    monkeypatch.setattr(phantom, "ensure_phantom", recording)
    load_train_data(_cfg(), progress=False)
    assert seen and not any(seen)
