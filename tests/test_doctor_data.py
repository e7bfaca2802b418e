"""Issue 25: ``microau doctor --data NAME=PATH``, a dry run over a data tree: what it reads and
leaves out, fallbacks, missing and damaged frames, the clips preparation would drop, AU counts,
and a non-zero exit when something would stop a run."""
from __future__ import annotations

import shutil

import pytest

from microau.cli import main
from microau.data.dry_run import inspect_tree
from microau.data.phantom.layouts import write_layout_phantom
from microau.data.registry import load_samples


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory):
    base = tmp_path_factory.mktemp("trees")
    return {name: write_layout_phantom(name, base / name, n_subjects=1, progress=False)
            for name in ("mmew", "casme3")}


@pytest.fixture
def mmew(phantoms, tmp_path):
    root = tmp_path / "mmew"
    shutil.copytree(phantoms["mmew"], root)
    return root


def test_a_sound_tree_passes_and_says_what_was_read(phantoms, capsys):
    assert main(["doctor", "--data", f"casme3={phantoms['casme3']}", "--data", f"mmew={phantoms['mmew']}"]) == 0
    out = capsys.readouterr().out
    assert "== casme3" in out and "rows left out: 1" in out and "is not a frame number" in out
    assert "apex frame not taken as coded:" in out and "published damaged-frame list: 3 frame(s)" in out
    assert "AU counts (clips coding the AU; * = scored):" in out
    assert out.count("[ok] nothing blocks a run") == 2 and "2 of 2 data tree(s) ready" in out


def test_damaged_missing_and_harmless_frames_are_found_without_preparing(mmew, capsys):
    samples = load_samples("mmew", mmew)
    damaged, missing, stray = samples[0].apex_path, samples[1].onset_path, samples[2].onset_path
    damaged.write_bytes(damaged.read_bytes()[:-400])
    missing.unlink()
    data = stray.read_bytes()
    at = 4 + int.from_bytes(data[4:6], "big")  # after the APP0 segment
    stray.write_bytes(data[:at] + b"\x00\x11\x22" + data[at:])
    report = inspect_tree("mmew", mmew)
    assert [p for _, p, _ in report.damaged] == [damaged] and "truncated" in report.damaged[0][2]
    assert [p for _, p in report.reading.missing] == [missing]
    assert [p for _, p, _ in report.warned] == [stray]
    assert main(["doctor", "--data", f"mmew={mmew}"]) == 1
    out = capsys.readouterr().out
    assert "[BLOCKED] 1 onset/apex frame(s) missing; 1 damaged frame(s)" in out
    assert "--on-damaged-frame drop leaves 1 clip(s) out" in out
    assert "1 read with a harmless warning" in out and str(missing) in out


def test_a_tree_that_cannot_be_read_blocks_with_the_reason(tmp_path, capsys):
    assert main(["doctor", "--data", f"casme3={tmp_path / 'nowhere'}", "--data", "nothing=/x"]) == 1
    out = capsys.readouterr().out
    assert "does not exist or is not a folder" in out and "unknown dataset 'nothing'" in out
    assert "0 of 2 data tree(s) ready" in out
