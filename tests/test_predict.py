"""``microau train-final`` and ``microau predict``: a smoke-profile model trained on three phantom
subjects (one epoch), saved, read back with weights_only=True and applied to a clip of the fourth;
the same probabilities as the training pipeline; image and video input; every error message; the
checkpoint cache of the demo; the one PTA token map."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from microau import checkpoint as ckpt
from microau import predict as pr
from microau.aus import AU_LANDMARKS, DATASET_AUS
from microau.cli import main
from microau.data.registry import load_samples
from microau.data.phantom import ensure_phantom
from microau.model.backbone import flow_images_to_tensor
from microau.prep.pipeline import PrepSettings, prepare_clip

HELD_OUT = "sub04"


@pytest.fixture(scope="module")
def samples():
    return load_samples("phantom-casme2", ensure_phantom("casme2", n_subjects=4, progress=False))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """make_config('smoke', 'full', dataset='phantom-casme2', epochs=1) + train_all_subjects on all
    subjects but one + save_checkpoint, through the CLI."""
    out = tmp_path_factory.mktemp("ckpt") / "model.pt"
    rc = main(["train-final", "--dataset", "phantom-casme2", "--profile", "smoke", "--variant", "full",
               "--epochs", "1", "--hold-out-subject", HELD_OUT, "--out", str(out), "--no-progress"])
    assert rc == 0 and out.is_file()
    return out


@pytest.fixture(scope="module")
def loaded(checkpoint):
    return pr.load_checkpoint(checkpoint)


@pytest.fixture(scope="module")
def clip(samples):
    return next(s for s in samples if s.subject == HELD_OUT)


@pytest.fixture(scope="module")
def image_prediction(loaded, clip):
    return pr.predict_images(loaded, clip.onset_path, clip.apex_path)


def _raw(checkpoint) -> dict:
    return torch.load(checkpoint, map_location="cpu", weights_only=True)


# --------------------------------------------------------------------------- checkpoint and prediction


def test_checkpoint_reads_back_with_weights_only(checkpoint, loaded):
    ck = _raw(checkpoint)
    assert ck["format"] == 1 and ck["aus"] == list(DATASET_AUS["casme2"])
    assert ck["config"]["profile"] == "smoke" and ck["config"]["epochs"] == 1
    assert PrepSettings(**ck["prep_settings"]) == PrepSettings()  # what load_train_data used
    assert ck["data_source"] == "phantom"
    assert ck["training"]["held_out_subject"] == HELD_OUT
    assert ck["training"]["subjects"] == ["sub01", "sub02", "sub03"]
    assert loaded.aus == tuple(DATASET_AUS["casme2"]) and loaded.has_text
    assert not loaded.model.training


def test_predict_matches_the_training_pipeline(loaded, clip, image_prediction):
    pred = image_prediction
    assert pred.probs.shape == (len(loaded.aus),)
    assert np.all((pred.probs >= 0) & (pred.probs <= 1))
    # the clip as training prepares it (prepare_clip), fed to the model directly
    ref = prepare_clip(clip, loaded.prep, use_cache=False)
    assert np.array_equal(pred.prepared.flow_image, ref.flow_image)
    assert np.array_equal(pred.prepared.landmarks, ref.landmarks)
    with torch.no_grad():
        out = loaded.model(flow_images_to_tensor(ref.flow_image[None]), torch.as_tensor(ref.landmarks[None]))
    np.testing.assert_allclose(pred.probs, out.probs[0].numpy(), atol=1e-5)
    assert pred.active == [a for a, p in zip(loaded.aus, out.probs[0].tolist()) if p > 0.5]
    assert pred.emotion in ("negative", "positive", "surprise")
    assert list(pred.emotion_scores) == ["negative", "positive", "surprise"]
    assert pred.emotion == max(pred.emotion_scores, key=pred.emotion_scores.get)
    assert pred.token_weights.shape[0] == len(loaded.aus) and pred.dependency.shape == (len(loaded.aus),)
    for n in range(len(loaded.aus)):  # PTA weights of an AU sum to one over its tokens
        assert pred.token_map(n).sum() == pytest.approx(1.0, abs=1e-5)


def test_cli_prints_and_writes_report_and_overlay(checkpoint, clip, image_prediction, tmp_path, capsys):
    out = tmp_path / "pred"
    rc = main(["predict", "--checkpoint", str(checkpoint), "--onset", str(clip.onset_path),
               "--apex", str(clip.apex_path), "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "AU probabilities" in text and "active AUs:" in text and "emotion (label-free, Eq. 13)" in text
    assert "phantom" in text
    rep = json.loads((out / "report.json").read_text())
    assert list(rep["probabilities"]) == [f"AU{a}" for a in DATASET_AUS["casme2"]]
    np.testing.assert_allclose(list(rep["probabilities"].values()), image_prediction.probs, atol=1e-6)
    assert rep["active_aus"] == [f"AU{a}" for a in image_prediction.active]
    assert rep["emotion"]["available"] and set(rep["emotion"]["scores"]) == {"negative", "positive", "surprise"}
    assert rep["inputs"]["onset"] == str(Path(clip.onset_path).resolve())
    assert rep["checkpoint"]["training"]["held_out_subject"] == HELD_OUT
    assert rep["preparation"]["fallbacks"] == [] and len(rep["preparation"]["landmarks_xy"]) == 68
    assert set(rep["gda_dependency"]) == set(rep["probabilities"]) == set(rep["pta_token_weights"])
    png = cv2.imread(str(out / "overlay.png"))
    assert png is not None and png.shape[0] > 300 and png.shape[1] > 600


def test_variant_without_text_tower_says_mer_is_unavailable(loaded, image_prediction):
    from microau.config import make_config
    from microau.model.micro_au_clip import MicroAUCLIP

    cfg = make_config("smoke", "table8/no_cl", dataset="phantom-casme2")
    model = MicroAUCLIP(cfg).eval()  # untrained: only the MER branch is under test
    no_text = pr.LoadedModel(model=model, cfg=cfg, aus=loaded.aus, prep=loaded.prep, info={})
    pred = pr.predict_frames(no_text, image_prediction.prepared.onset, image_prediction.prepared.apex)
    assert pred.emotion is None and "unavailable for this variant" in pred.emotion_note
    assert "unavailable" in pred.format_text() and not pred.to_json()["emotion"]["available"]


# --------------------------------------------------------------------------- video input


def _write_video(path: Path, frames_rgb: list[np.ndarray]) -> bool:
    """Lossless FFV1 if this OpenCV has it (then True), else MJPG."""
    h, w = frames_rgb[0].shape[:2]
    for fourcc, lossless in (("FFV1", True), ("MJPG", False)):
        wr = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10, (w, h))
        if wr.isOpened():
            for f in frames_rgb:
                wr.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
            wr.release()
            return lossless
    pytest.skip("this OpenCV can write no video")


@pytest.fixture(scope="module")
def video(clip, tmp_path_factory):
    onset, apex = pr.read_image(clip.onset_path), pr.read_image(clip.apex_path)
    middle = ((onset.astype(np.uint16) + apex) // 2).astype(np.uint8)
    path = tmp_path_factory.mktemp("video") / "clip.avi"
    lossless = _write_video(path, [onset, middle, apex])
    return path, lossless, onset, apex


def test_video_frames_are_counted_from_zero(video):
    path, lossless, onset, apex = video
    first, last = pr.read_video_frames(path, [0, 2])
    tol = 0 if lossless else 12
    assert np.abs(first.astype(int) - onset).mean() <= tol and np.abs(last.astype(int) - apex).mean() <= tol
    swapped = pr.read_video_frames(path, [2, 0])
    assert np.array_equal(swapped[0], last) and np.array_equal(swapped[1], first)


def test_video_input_gives_the_image_result(loaded, video, image_prediction):
    path, lossless, _, _ = video
    pred = pr.predict_video(loaded, path, 0, 2)
    np.testing.assert_allclose(pred.probs, image_prediction.probs, atol=1e-6 if lossless else 0.1)
    assert pred.inputs["mode"] == "video" and pred.inputs["apex_frame"] == 2


# --------------------------------------------------------------------------- errors


def test_frame_index_out_of_range_names_the_frame_count(loaded, video):
    path = video[0]
    msg = r"apex frame index 3 is out of range: the video .* has 3 frames \(indices 0 to 2"
    with pytest.raises(pr.FrameIndexError, match=msg):
        pr.predict_video(loaded, path, 0, 3)
    with pytest.raises(pr.FrameIndexError, match="onset frame index must be an integer >= 0"):
        pr.predict_video(loaded, path, -1, 2)


def test_unreadable_inputs(loaded, clip, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_text("not an image")
    with pytest.raises(pr.UnreadableFrameError, match=r"cannot read the apex image .*broken\.jpg.*cannot decode"):
        pr.predict_images(loaded, clip.onset_path, bad)
    with pytest.raises(FileNotFoundError, match=r"onset image not found: .*missing\.jpg"):
        pr.predict_images(loaded, tmp_path / "missing.jpg", clip.apex_path)
    fake = tmp_path / "fake.avi"
    fake.write_text("not a video")
    with pytest.raises(pr.UnreadableVideoError, match=r"fake\.avi"):
        pr.predict_video(loaded, fake, 0, 1)
    with pytest.raises(FileNotFoundError, match="video file not found"):
        pr.predict_video(loaded, tmp_path / "none.mp4", 0, 1)


def test_no_face_and_size_mismatch_are_errors(loaded, clip, tmp_path):
    apex = pr.read_image(clip.apex_path)
    grey = tmp_path / "grey.png"
    cv2.imwrite(str(grey), np.full_like(apex, 128))
    with pytest.raises(pr.NoFaceError, match=r"no face found in the onset image .*grey\.png"):
        pr.predict_images(loaded, grey, clip.apex_path)
    with pytest.raises(pr.NoFaceError, match=r"no face found in the apex image .*grey\.png"):
        pr.predict_images(loaded, clip.onset_path, grey)
    small = tmp_path / "small.png"
    h, w = apex.shape[:2]
    cv2.imwrite(str(small), cv2.resize(apex, (w // 2, h // 2))[..., ::-1])
    msg = rf"is {w}x{h} pixels but the apex image .*small\.png is {w // 2}x{h // 2}"
    with pytest.raises(pr.FrameSizeError, match=msg):
        pr.predict_images(loaded, clip.onset_path, small)


def _save(tmp_path, ck, name="edited.pt") -> Path:
    p = tmp_path / name
    torch.save(ck, p)
    return p


def test_checkpoint_for_another_au_set_or_model(checkpoint, tmp_path):
    ck = _raw(checkpoint)
    ck["aus"] = list(DATASET_AUS["samm"])  # config still says phantom-casme2
    with pytest.raises(pr.CheckpointError, match=r"made for another AU set: it lists AUs \[2, 4, 7, 12\]"):
        pr.load_checkpoint(_save(tmp_path, ck))
    ck = _raw(checkpoint)  # a consistent SAMM config and AU list, but CASME II's weights
    ck["config"]["dataset"], ck["aus"] = "phantom-samm", list(DATASET_AUS["samm"])
    with pytest.raises(pr.CheckpointError, match=r"does not fit the model its config builds .*with another shape"):
        pr.load_checkpoint(_save(tmp_path, ck))
    ck = _raw(checkpoint)
    ck["config"]["gsd"] = "add_mlp"
    with pytest.raises(pr.CheckpointError, match=r"gsd=add_mlp.*tensor\(s\) (missing|unexpected)"):
        pr.load_checkpoint(_save(tmp_path, ck))
    ck = _raw(checkpoint)
    ck["config"]["no_such_option"] = 1
    with pytest.raises(pr.CheckpointError, match="config does not fit this microau version"):
        pr.load_checkpoint(_save(tmp_path, ck))


class _Foreign:  # a pickled object of a class: weights_only=True refuses to load it
    pass


def test_not_a_microau_checkpoint(checkpoint, tmp_path):
    ck = _raw(checkpoint)
    ck["format"] = 99
    with pytest.raises(pr.CheckpointError, match=r"checkpoint format 99, but this microau .* reads format 1"):
        pr.load_checkpoint(_save(tmp_path, ck))
    with pytest.raises(pr.CheckpointError, match=r"is not a microau checkpoint: it lacks \['format'"):
        pr.load_checkpoint(_save(tmp_path, ck["state_dict"], "bare.pt"))
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    msg = r"notes\.pt is not a microau checkpoint: torch.load\(weights_only=True\) cannot read it"
    with pytest.raises(pr.CheckpointError, match=msg):
        pr.load_checkpoint(text)
    with open(tmp_path / "object.pt", "wb") as fh:
        pickle.dump(_Foreign(), fh, protocol=2)
    with pytest.raises(pr.CheckpointError, match="cannot read it"):
        pr.load_checkpoint(tmp_path / "object.pt")
    with pytest.raises(FileNotFoundError, match="checkpoint file not found.*microau train-final"):
        pr.load_checkpoint(tmp_path / "nothing.pt")


def test_cli_errors_exit_2_without_traceback(checkpoint, clip, video, tmp_path, capsys):
    rc = main(["predict", "--checkpoint", str(checkpoint), "--video", str(video[0]),
               "--onset-frame", "0", "--apex-frame", "7"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("microau predict: error: the apex frame index 7 is out of range")
    assert "has 3 frames" in err and "Traceback" not in err
    rc = main(["predict", "--checkpoint", str(tmp_path / "x.pt"), "--onset", str(clip.onset_path),
               "--apex", str(clip.apex_path)])
    assert rc == 2 and "checkpoint file not found" in capsys.readouterr().err
    rc = main(["predict", "--checkpoint", str(checkpoint), "--onset", str(clip.onset_path)])
    assert rc == 2 and "both --onset and --apex are needed" in capsys.readouterr().err
    rc = main(["predict", "--checkpoint", str(checkpoint), "--onset", str(clip.onset_path),
               "--apex", str(clip.apex_path), "--video", str(video[0])])
    assert rc == 2 and "give either --onset" in capsys.readouterr().err
    rc = main(["train-final", "--profile", "smoke", "--hold-out-subject", "sub99", "--out",
               str(tmp_path / "m.pt"), "--no-progress"])
    assert rc == 2 and "'sub99' is not a subject of phantom-casme2" in capsys.readouterr().err


# --------------------------------------------------------------------------- layout


def test_commands_come_from_predict_cli():
    from microau import predict_cli
    from microau.cli import build_parser

    args = build_parser().parse_args(["predict", "--checkpoint", "m.pt", "--onset", "a", "--apex", "b"])
    assert args.func is predict_cli._predict_main
    args = build_parser().parse_args(["train-final", "--out", "m.pt"])
    assert args.func is predict_cli._train_final_main and args.dataset == "phantom-casme2"
    assert pr.load_checkpoint is ckpt.load_checkpoint and pr.CheckpointError is ckpt.CheckpointError


def test_checkpoint_is_written_atomically(checkpoint, loaded, tmp_path):
    out = tmp_path / "sub" / "copy.pt"
    ckpt.save_checkpoint(loaded.model, out, loaded.prep.to_json(), "phantom", {"note": 1})
    assert [p.name for p in out.parent.iterdir()] == ["copy.pt"]  # no partial file left
    again = _raw(out)
    assert again["note"] == 1 and again["format"] == ckpt.CHECKPOINT_FORMAT
    for k, v in _raw(checkpoint)["state_dict"].items():
        assert torch.equal(v, again["state_dict"][k])


def test_token_map_is_report_s_and_sums_landmark_weights(image_prediction):
    """One token-map function (model/tokens.py); report's copy gives the same maps."""
    from microau import report
    from microau.model.tokens import au_token_index, pta_token_map

    pred = image_prediction
    rng = np.random.default_rng(0)
    for n, au in enumerate(pred.aus):
        w = rng.random(pred.token_weights.shape[1]).astype(np.float32)
        ours = pta_token_map(w, pred.prepared.landmarks, au, pred.image_size, pred.grid)
        theirs = report.pta_token_map(w, pred.prepared.landmarks, au, pred.image_size, pred.grid)
        np.testing.assert_array_equal(ours, theirs)
        k = len(AU_LANDMARKS[au])
        assert ours.shape == pred.grid and ours.sum() == pytest.approx(float(w[:k].astype(np.float64).sum()))
        tok = au_token_index(pred.prepared.landmarks, au, pred.image_size, pred.grid)
        assert set(np.flatnonzero(ours.ravel())) <= set(tok.tolist())


def test_ensure_checkpoint_reads_back_and_replaces_a_damaged_file(tmp_path, caplog):
    from microau.config import make_config
    from microau.train.final import checkpoint_path, ensure_checkpoint, held_out_model

    cfg = make_config("smoke", "full", dataset="phantom-casme2", epochs=1, n_subjects=2)
    path = ensure_checkpoint(cfg, tmp_path, "sub02")
    assert path == checkpoint_path(cfg, tmp_path, "sub02") and path.name.startswith("phantom-casme2-full-without-sub02-")
    first = _raw(path)
    stamp = path.stat().st_mtime_ns
    assert ensure_checkpoint(cfg, tmp_path, "sub02") == path and path.stat().st_mtime_ns == stamp  # read back
    path.write_bytes(path.read_bytes()[:1000])  # a copy cut short
    with caplog.at_level("WARNING", logger="microau"):
        assert ensure_checkpoint(cfg, tmp_path, "sub02") == path
    assert any("damaged or truncated" in r.getMessage() and str(path) in r.getMessage() for r in caplog.records)
    again = _raw(path)  # trained again: the same seed gives the same tensors
    assert all(torch.equal(v, again["state_dict"][k]) for k, v in first["state_dict"].items())
    demo = held_out_model(cfg, tmp_path, "last", n_clips=2)
    assert demo.held_out == "sub02" and demo.checkpoint == path
    assert len(demo.samples) == 2 and {s.subject for s in demo.samples} == {"sub02"}
    with pytest.raises(ValueError, match="'sub99' is not a subject"):
        held_out_model(cfg, tmp_path, "sub99")
