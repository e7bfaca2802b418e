"""A coding sheet is read once per process (microau.data.read_once); a changed sheet or frame tree is read again, so a
removed frame or a folder swapped for a link is still refused."""
from __future__ import annotations

import logging
import os
import shutil

import pytest

from microau.data import phantom as ph
from microau.data.registry import load_samples


@pytest.fixture()
def root(tmp_path):
    src = ph.write_phantom("samm", tmp_path / "set", seed=0, n_subjects=2, progress=False)
    return src


def test_the_sheet_is_read_and_logged_once_until_something_changes(root, caplog, tmp_path):
    with caplog.at_level(logging.INFO, logger="microau"):
        first = load_samples("phantom-samm", root)
        second = load_samples("phantom-samm", root)
    assert first == second and sum("clips from" in r.getMessage() for r in caplog.records) == 1
    second.pop()  # callers get their own list
    assert len(load_samples("phantom-samm", root)) == len(first)
    # a frame removed: read again, and the missing frame is an error as on a first read
    os.remove(first[0].apex_path)
    with pytest.raises(FileNotFoundError, match="missing"):
        load_samples("phantom-samm", root)


def test_a_subject_folder_swapped_for_a_link_is_refused_after_a_first_read(root, tmp_path):
    samples = load_samples("phantom-samm", root)
    subject_dir = samples[0].onset_path.parents[1]
    moved = tmp_path / "elsewhere"
    shutil.move(str(subject_dir), moved)  # same inodes and times, now outside the root
    subject_dir.symlink_to(moved, target_is_directory=True)
    with pytest.raises(ValueError, match="outside the frame folder"):
        load_samples("phantom-samm", root)
