"""Frames as they really are (issue 25): a JPEG whose libjpeg warning loses no pixel is read with a
counted note; pixel-losing damage is refused, or the clip dropped and counted. Each case is a real
JPEG file, written here and then altered the way a camera, a converter or a disk would."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest

from microau.data.types import Sample
from microau.prep import frames
from microau.prep.pipeline import PrepSettings, prepare_clip, prepare_samples


def _jpeg(seed: int = 0, shape=(96, 128)) -> bytes:
    """A real baseline JPEG of a smooth texture (what cv2 writes: SOI, APP0, DQT, SOF, DHT, SOS)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (shape[0] // 8, shape[1] // 8, 3), dtype=np.uint8)
    img = cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    return buf.tobytes()


def _after_app0(data: bytes) -> int:
    """Where the segment after APP0 begins (a place between two header segments)."""
    assert data[2:4] == b"\xff\xe0"
    return 4 + int.from_bytes(data[4:6], "big")


def _scan(data: bytes) -> tuple[int, int]:
    """(first byte of the entropy-coded data, position of the end-of-image marker)."""
    sos = data.rfind(frames.JPEG_SOS)
    return sos + 2 + int.from_bytes(data[sos + 2:sos + 4], "big"), data.rfind(frames.JPEG_EOI)


def _decode(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


@pytest.fixture
def whole() -> bytes:
    data = _jpeg()
    assert frames.check_image(data) == frames.FrameCheck()
    return data


def test_stray_bytes_between_header_segments_are_read_with_a_note(whole, tmp_path):
    at = _after_app0(whole)
    data = whole[:at] + b"\x12\x34\x56\x00" + whole[at:]
    assert "4 extraneous bytes before marker 0xdb" in frames._jpeg_warning(data)  # libjpeg warns
    found = frames.check_image(data)
    assert found.damage is None and "4 stray byte(s)" in found.note
    path = tmp_path / "stray.jpg"
    path.write_bytes(data)
    img, note = frames.read_frame_checked(path, "c1")
    assert note == found.note
    assert np.array_equal(img, cv2.cvtColor(_decode(whole), cv2.COLOR_BGR2RGB))  # no pixel lost


def test_stray_header_bytes_do_not_excuse_a_damaged_scan(whole):
    at = _after_app0(whole)
    start, eoi = _scan(whole)
    cut = whole[:start + (eoi - start) // 2] + frames.JPEG_EOI  # image data cut short
    data = cut[:at] + b"\x12\x34\x56" + cut[at:]
    found = frames.check_image(data)
    assert found.note is None and "extraneous bytes before marker 0xdb" in found.damage


@pytest.mark.parametrize("case, expected", [
    ("truncated", "truncated"),
    ("premature end", "premature end of data segment"),
    ("overwritten", "extraneous bytes before marker 0xd9"),
    ("bytes after the image data", "pixels may be lost"),
])
def test_pixel_losing_damage_is_refused_naming_the_file(whole, tmp_path, case, expected):
    start, eoi = _scan(whole)
    mid = start + (eoi - start) // 2
    if case == "truncated":
        data = whole[: mid]
    elif case == "premature end":
        data = whole[: mid] + frames.JPEG_EOI
    elif case == "overwritten":
        data = whole[:mid] + bytes(48) + whole[mid + 48:]
    else:
        data = whole[:eoi] + bytes(range(1, 33)) + whole[eoi:]
    found = frames.check_image(data)
    assert found.note is None and expected in found.damage, found
    path = tmp_path / f"{case.replace(' ', '_')}.jpg"
    path.write_bytes(data)
    with pytest.raises(frames.DamagedFrameError, match=rf"{path.name} \(clip c9\).*--on-damaged-frame drop"):
        frames.read_frame(path, "c9")


def _sample(tmp_path: Path, name: str, onset: bytes, apex: bytes) -> Sample:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "1.jpg").write_bytes(onset)
    (folder / "5.jpg").write_bytes(apex)
    return Sample(dataset="test", subject="s1", clip=name, onset_frame=1, apex_frame=5,
                  onset_path=folder / "1.jpg", apex_path=folder / "5.jpg", aus=frozenset({4}),
                  emotion="", emotion3=None)


def test_preparation_counts_the_note_and_drops_or_refuses_damage(whole, tmp_path):
    settings = PrepSettings(magnify="none", tvl1_nscales=1, tvl1_warps=1, tvl1_outer_iterations=1)
    at = _after_app0(whole)
    start, eoi = _scan(whole)
    apex = _jpeg(1)
    stray = _sample(tmp_path, "stray", whole[:at] + b"\x00\x01" + whole[at:], apex)
    plain = _sample(tmp_path, "plain", whole, apex)
    broken = _sample(tmp_path, "broken", whole[: start + (eoi - start) // 2] + frames.JPEG_EOI, apex)
    cache = tmp_path / "cache"
    clip = prepare_clip(stray, settings, cache_dir=cache)
    assert frames.NOTE_STRAY_HEADER_BYTES in clip.fallback.split("; ")
    assert np.array_equal(clip.flow_image, prepare_clip(plain, settings, cache_dir=cache).flow_image)
    with pytest.raises(frames.DamagedFrameError, match="broken"):
        prepare_samples([stray, broken], settings, cache_dir=cache, progress=False)
    dropped = prepare_samples([stray, broken, plain], dataclasses.replace(settings, on_unreadable="drop"),
                              cache_dir=cache, progress=False)
    assert [s.clip for s in dropped.samples] == ["stray", "plain"]
    assert list(dropped.dropped) == [broken.id] and "premature end" in dropped.dropped[broken.id]
    assert dropped.fallback_counts()[frames.NOTE_STRAY_HEADER_BYTES] == 1
    assert dropped.from_cache.all()  # what to do with damage is not part of a clip's cache key


def test_the_command_line_option_reaches_the_preparation_without_renaming_default_runs():
    from microau import cli_args
    from microau.cli import build_parser
    from microau.config import make_config
    from microau.data.registry import prep_settings_for
    from microau.train.loso import config_key

    parser = build_parser()
    for cmd in (["loso"], ["reproduce"], ["prepare", "--dataset", "phantom-casme2"]):
        assert parser.parse_args(cmd + ["--on-damaged-frame", "drop"]).on_damaged_frame == "drop"
    assert parser.parse_args(["prepare", "--dataset", "phantom-casme2"]).on_damaged_frame == "error"
    args = parser.parse_args(["loso", "--profile", "smoke", "--on-damaged-frame", "drop"])
    (cfg,) = cli_args.configs_from_args(args, ["full"], ["phantom-casme2"])
    assert cfg.on_damaged_frame == "drop" and prep_settings_for(cfg).on_unreadable == "drop"
    (plain,) = cli_args.configs_from_args(parser.parse_args(["loso", "--profile", "smoke"]), ["full"],
                                          ["phantom-casme2"])
    assert prep_settings_for(plain).on_unreadable == "error"
    default = make_config("smoke", "full")
    assert config_key(default) == config_key(default.replace(on_damaged_frame="error"))
    assert config_key(default) != config_key(default.replace(on_damaged_frame="drop"))
