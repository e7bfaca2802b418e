"""Issue 14, files damaged the way a disk, a crash or a careless copy would: a truncated or partly
zeroed preparation-cache entry, a truncated or partly zeroed JPEG frame, a truncated video, a checkpoint that is
a pickle, and the permissions of what the cache holds. Each case ends in a clear error naming the
file, a counted drop, or a recomputation with a warning; never a traceback."""
from __future__ import annotations

import logging
import os
import pickle
import shutil
import stat
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from microau.checkpoint import CheckpointError, load_checkpoint
from microau.cli import main
from microau.data.registry import load_samples
from microau.data.phantom import ensure_phantom, write_phantom
from microau.data.types import Sample
from microau.predict import UnreadableVideoError, read_image, read_video_frames
from microau.prep import cache as prep_cache
from microau.prep.pipeline import (PrepSettings, UnreadableFrameError, image_damage, prepare_clip, prepare_samples,
                                   read_frame)


@pytest.fixture(scope="module")
def phantom_root() -> Path:
    return ensure_phantom("casme2", n_subjects=4, progress=False)


@pytest.fixture(scope="module")
def sample(phantom_root) -> Sample:
    return load_samples("phantom-casme2", phantom_root)[0]


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _truncate(src: Path, dst: Path, fraction: float = 1 / 3) -> Path:
    data = Path(src).read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


# --------------------------------------------------------------------------- (4) cache entries


@pytest.mark.parametrize("damage", ["truncated", "zeroed"])
def test_damaged_cache_entry_is_recomputed_with_a_warning(sample, tmp_path, caplog, damage):
    first = prepare_clip(sample, PrepSettings(), tmp_path)
    entries = list(tmp_path.rglob("*.npz"))
    assert len(entries) == 1 and not first.from_cache
    entry = entries[0]
    data = bytearray(entry.read_bytes())
    n = len(data)
    if damage == "truncated":
        data = data[: n // 3]
    else:  # a block of zeros in the middle, as a failing disk or a crash of the file system leaves
        data[n // 3: 2 * n // 3] = bytes(2 * n // 3 - n // 3)
    entry.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="microau"):
        again = prepare_clip(sample, PrepSettings(), tmp_path)
    assert not again.from_cache  # recomputed, not read from the damaged file
    assert np.array_equal(again.flow_image, first.flow_image) and np.array_equal(again.landmarks, first.landmarks)
    assert any(str(entry) in r.getMessage() and "damaged" in r.getMessage() for r in caplog.records)
    assert prepare_clip(sample, PrepSettings(), tmp_path).from_cache  # the entry was written again, whole


def test_cache_entry_of_another_layout_is_recomputed(sample, tmp_path, caplog):
    prepare_clip(sample, PrepSettings(), tmp_path)
    entry = next(tmp_path.rglob("*.npz"))
    np.savez_compressed(entry.with_suffix(""), flow_image=np.zeros((3, 3, 3), np.uint8))  # writes entry
    with caplog.at_level(logging.WARNING, logger="microau"):
        again = prepare_clip(sample, PrepSettings(), tmp_path)
    assert not again.from_cache and again.flow_image.shape == (224, 224, 3)
    assert any(str(entry) in r.getMessage() for r in caplog.records)


def test_cache_entries_are_renamed_into_place_with_the_umask_permissions(sample, tmp_path, umask_022):
    prepare_clip(sample, PrepSettings(), tmp_path)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 1 and files[0].suffix == ".npz" and not files[0].name.startswith(".tmp-")
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o644  # mkstemp would give 0600
    assert stat.S_IMODE(files[0].parent.stat().st_mode) == 0o755


# --------------------------------------------------------------------------- (5) damaged frames


def test_truncated_jpeg_is_refused_naming_the_file(sample, tmp_path):
    bad = _truncate(sample.apex_path, tmp_path / "apex.jpg")
    assert cv2.imread(str(bad)) is not None  # OpenCV alone decodes it (grey lower part)
    assert "truncated" in image_damage(bad.read_bytes())
    assert image_damage(Path(sample.apex_path).read_bytes()) is None
    with pytest.raises(UnreadableFrameError, match=rf"damaged image file .*apex\.jpg \(clip c1\): .*truncated"):
        read_frame(bad, "c1")
    with pytest.raises(UnreadableFrameError, match=r"cannot read the apex image .*apex\.jpg: it is damaged"):
        read_image(bad, "apex image")
    png = tmp_path / "frame.png"
    cv2.imwrite(str(png), cv2.imread(str(sample.apex_path)))
    assert read_frame(png).shape == read_frame(sample.apex_path).shape
    with pytest.raises(UnreadableFrameError, match=r"damaged image file .*frame_cut\.png: .*truncated"):
        read_frame(_truncate(png, tmp_path / "frame_cut.png", 0.5))


@pytest.mark.parametrize("start", [0.2, 0.5, 0.8])
def test_jpeg_with_a_zeroed_block_is_refused(sample, tmp_path, start):
    data = bytearray(Path(sample.apex_path).read_bytes())
    at = int(len(data) * start)
    data[at: at + 4096] = bytes(4096)  # markers intact, entropy-coded data overwritten
    bad = tmp_path / "zeroed.jpg"
    bad.write_bytes(bytes(data))
    assert cv2.imread(str(bad)) is not None  # OpenCV alone decodes it
    with pytest.raises(UnreadableFrameError, match=r"damaged image file .*zeroed\.jpg: libjpeg-turbo reports"):
        read_frame(bad)


def test_prepare_refuses_or_drops_a_clip_with_a_truncated_frame(phantom_root, tmp_path, capsys):
    root = tmp_path / "copy"
    shutil.copytree(phantom_root, root)
    samples = load_samples("phantom-casme2", root)
    target = Path(samples[0].onset_path)
    _truncate(target, target)
    rc = main(["prepare", "--dataset", "phantom-casme2", "--root", str(root), "--cache", str(tmp_path / "c"),
               "--workers", "1", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and str(target) in err and "damaged image file" in err and "Traceback" not in err
    dropped = prepare_samples(samples[:2], PrepSettings(on_unreadable="drop"), tmp_path / "c", progress=False)
    assert len(dropped) == 1 and list(dropped.dropped) == [samples[0].id]
    assert str(target) in dropped.dropped[samples[0].id] and dropped.summary()["dropped"] == 1


def _write_video(path: Path, frames: list[np.ndarray]) -> None:
    h, w = frames[0].shape[:2]
    for fourcc in ("MJPG", "FFV1"):
        wr = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10, (w, h))
        if wr.isOpened():
            for f in frames:
                wr.write(f)
            wr.release()
            return
    pytest.skip("this OpenCV can write no video")


def test_truncated_video_is_an_error_naming_the_file(sample, tmp_path):
    img = cv2.imread(str(sample.apex_path))
    whole = tmp_path / "clip.avi"
    _write_video(whole, [np.roll(img, 3 * k, axis=1) for k in range(6)])
    assert len(read_video_frames(whole, [0, 5])) == 2  # the whole video reads
    cut = _truncate(whole, tmp_path / "cut.avi", 0.5)
    cap = cv2.VideoCapture(str(cut))
    declared = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    decoded = 0
    while cap.grab():
        decoded += 1
    cap.release()
    assert 0 < decoded < declared == 6
    with pytest.raises(UnreadableVideoError, match=r"cut\.avi is truncated or damaged: its header declares 6"):
        read_video_frames(cut, [0, 5], ["onset frame", "apex frame"])
    with pytest.raises(UnreadableVideoError, match=r"cut\.avi is truncated .* may be incomplete"):
        read_video_frames(cut, [0, decoded - 1], ["onset frame", "apex frame"])
    assert len(read_video_frames(cut, [0, decoded - 2])) == 2  # frames before the damage still read


# --------------------------------------------------------------------------- (7) checkpoints, folders


class _Foreign:
    pass


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


@pytest.mark.parametrize("kind", ["code", "object"])
def test_refused_checkpoint_gives_our_advice_not_pytorchs(tmp_path, sample, capsys, kind):
    path = tmp_path / "model.pt"
    if kind == "code":
        torch.save({"state_dict": _RunsCode()}, path)
    else:
        with open(path, "wb") as fh:
            pickle.dump(_Foreign(), fh, protocol=2)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    msg = str(info.value)
    assert "weights_only=False" not in msg and "likely succeed" not in msg and "can still be loaded" not in msg
    assert "pickled Python objects" in msg and "microau train-final" in msg and str(path) in msg
    if kind == "code":
        assert "system" in msg  # names what the file would call
    rc = main(["predict", "--checkpoint", str(path), "--onset", str(sample.onset_path),
               "--apex", str(sample.apex_path)])
    err = capsys.readouterr().err
    assert rc == 2 and "likely succeed" not in err and "Traceback" not in err


def test_truncated_checkpoint_is_called_damaged(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"a": torch.zeros(100)}, path)
    _truncate(path, path, 0.5)
    with pytest.raises(CheckpointError, match=r"model\.pt is a damaged or truncated PyTorch file"):
        load_checkpoint(path)
    noise = tmp_path / "noise.pt"  # PyTorch's weights-only reader gives its hint for any bad pickle
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8).tobytes())
    with pytest.raises(CheckpointError, match=r"noise\.pt is not a microau checkpoint: .*not a file written by "
                                              r"torch\.save") as info:
        load_checkpoint(noise)
    assert "likely succeed" not in str(info.value) and "weights_only=False" not in str(info.value)


def test_cache_folders_are_made_with_the_users_umask(tmp_path, umask_022):
    out = tmp_path / "cache" / "phantom" / "casme2-seed0-1subj"
    write_phantom("casme2", out, n_subjects=1, progress=False)
    assert stat.S_IMODE(out.stat().st_mode) == 0o755  # tempfile.mkdtemp would give 0700
    staged = prep_cache.make_staging_dir(tmp_path, ".x-")
    assert stat.S_IMODE(staged.stat().st_mode) == 0o755 and staged.name.startswith(".x-")
