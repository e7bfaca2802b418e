"""Apply a trained model to your own clip: two frames in, a :class:`Prediction` and its report out.

The frames are two image files (:func:`predict_images`) or two frames of a video
(:func:`predict_video`; 0-based indices in OpenCV's decoding order). They are prepared exactly as
the training clips were (:func:`microau.prep.pipeline.prepare_frames` with the checkpoint's
settings), but strictly: no face in either frame, frames of different sizes, and damaged image
or video data are errors, not fallbacks. The result holds per AU the probability that it is
active (Eq. 7; active if p > 0.5), the label-free emotion guess of Eq. 13 (models with a text
tower only), and the PTA (Eq. 2) and GDA (Eq. 5) weights; :func:`write_report` writes
``report.json`` and the overlay figure (:func:`microau.figures.prediction_overlay`).

The checkpoint format lives in :mod:`microau.checkpoint`, the training of the model in
:mod:`microau.train.final`, the commands in :mod:`microau.predict_cli`. Every error about the
inputs is a ``ValueError`` or ``FileNotFoundError`` whose message says what was wrong and what to do.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .checkpoint import CheckpointError, LoadedModel, load_checkpoint  # noqa: F401 (re-exported)
from .prep.pipeline import FrameSizeError, NoFaceError, UnreadableFrameError  # noqa: F401 (re-exported)

log = logging.getLogger(__name__)

THRESHOLD = 0.5  # Eq. 7: an AU is active if P_n(active) > 0.5
REPORT_FILE = "report.json"
OVERLAY_FILE = "overlay.png"


class UnreadableVideoError(ValueError):
    """OpenCV cannot open or decode a video file, or its data end early."""


class FrameIndexError(ValueError):
    """A video frame index is negative or past the last frame."""


# --------------------------------------------------------------------------- inputs


def read_image(path, label: str = "onset image") -> np.ndarray:
    """uint8 RGB [H, W, 3] from an image file, decoded strictly
    (:func:`microau.prep.pipeline.read_frame`), with a message naming the frame if it fails."""
    from .prep.pipeline import DamagedFrameError, read_frame

    p = Path(path).expanduser()
    if not p.is_file():
        raise UnreadableFrameError(f"{label} not found: {p}")
    try:
        return read_frame(p)
    except DamagedFrameError as err:
        raise UnreadableFrameError(
            f"cannot read the {label} {p}: it is damaged ({err.reason}). Give an "
            "undamaged copy of the frame") from None
    except UnreadableFrameError:
        raise UnreadableFrameError(
            f"cannot read the {label} {p}: OpenCV cannot decode it as an image "
            "(give a JPEG, PNG, BMP or TIFF file)") from None


def read_video_frames(path, indices: list[int], labels: list[str] | None = None) -> list[np.ndarray]:
    """uint8 RGB frames at the given 0-based indices of a video, read with ``cv2.VideoCapture``
    in decoding order (the first frame decoded is frame 0). Raises :class:`FrameIndexError` with
    the video's frame count if an index is past the end, and :class:`UnreadableVideoError` if the
    video's data end before the frame count its header declares and a wanted frame is in, or just
    before, the part that does not decode (a truncated file: that frame may be partly grey).

    Our reading of "strict" for videos: OpenCV does not report damage inside a frame that still
    decodes, so the check is the header's frame count against the frames that decode."""
    import cv2

    labels = labels or [f"frame {i}" for i in indices]
    p = Path(path).expanduser()
    if not p.is_file():
        raise UnreadableFrameError(f"video file not found: {p}")
    for idx, lab in zip(indices, labels):
        if int(idx) != idx or idx < 0:
            raise FrameIndexError(f"the {lab} index must be an integer >= 0 (frames are counted from 0), got {idx}")
    how = ("convert it (e.g. `ffmpeg -i IN -c:v libx264 OUT.mp4`), or save the two frames as images "
           "and use --onset/--apex")
    cap = cv2.VideoCapture(str(p))
    try:
        if not cap.isOpened():
            raise UnreadableVideoError(f"cannot open the video {p}: OpenCV's VideoCapture cannot read this file; {how}")
        declared = int(max(0.0, cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0))  # from the header; 0: unknown
        wanted = {int(i) for i in indices}
        last = max(wanted)
        got: dict[int, np.ndarray] = {}
        n = 0
        while n <= last:
            if not cap.grab():
                break
            if n in wanted:
                ok, frame = cap.retrieve()
                if not ok or frame is None:
                    raise UnreadableVideoError(f"cannot decode frame {n} of the video {p}; {how}")
                got[n] = frame
            n += 1
        if n <= last:  # reached the end: n frames in all
            if n == 0:
                raise UnreadableVideoError(f"OpenCV opened the video {p} but decoded no frame from it; {how}")
            bad = next((i, lab) for i, lab in zip(indices, labels) if i >= n)
            if declared > n:
                raise UnreadableVideoError(_truncated_video(p, declared, n, f"the {bad[1]} ({bad[0]}) lies in the "
                                                            "part that does not decode", how))
            raise FrameIndexError(
                f"the {bad[1]} index {bad[0]} is out of range: the video {p} has {n} frames "
                f"(indices 0 to {n - 1}, counted from 0 in the order OpenCV decodes them)")
        if declared > n and not cap.grab():  # the data end right after the last frame we took
            lab = labels[list(indices).index(last)]
            raise UnreadableVideoError(_truncated_video(
                p, declared, n, f"the {lab} ({last}), the last frame that decodes, may be incomplete", how))
    finally:
        cap.release()
    out = []
    for i in indices:
        f = got[int(i)]
        f = cv2.cvtColor(f, cv2.COLOR_GRAY2RGB) if f.ndim == 2 else cv2.cvtColor(f[..., :3], cv2.COLOR_BGR2RGB)
        out.append(f)
    return out


def _truncated_video(p: Path, declared: int, decoded: int, which: str, how: str) -> str:
    return (f"the video {p} is truncated or damaged: its header declares {declared} frames, but its data "
            f"end after {decoded} frame(s) (indices 0 to {decoded - 1}); {which}. Use a whole copy of the "
            f"video, or {how.replace('convert it', 're-encode a whole copy')}")


# --------------------------------------------------------------------------- prediction


@dataclass
class Prediction:
    aus: tuple[int, ...]
    probs: np.ndarray  # [N] P_n(active), Eq. 7
    emotion: str | None  # Eq. 13 argmax, None without a text tower
    emotion_scores: dict[str, float] | None
    emotion_note: str
    token_weights: np.ndarray | None  # [N, L] PTA weights W^n_j over the AU's landmarks (Eq. 2)
    dependency: np.ndarray | None  # [N] GDA dependency weights W_d (Eq. 5)
    prepared: object  # microau.prep.pipeline.PreparedClip
    image_size: int  # side of the prepared flow image, the frame of prepared.landmarks (Eq. 1 uses fractions)
    grid: tuple[int, int]
    inputs: dict = field(default_factory=dict)
    checkpoint: dict = field(default_factory=dict)
    prep_settings: dict = field(default_factory=dict)
    threshold: float = THRESHOLD

    @property
    def active(self) -> list[int]:
        return [a for a, p in zip(self.aus, self.probs) if p > self.threshold]

    def probabilities(self) -> dict[str, float]:
        return {f"AU{a}": float(p) for a, p in zip(self.aus, self.probs)}

    def token_map(self, n: int) -> np.ndarray | None:
        """PTA weights of AU ``n`` (position in ``aus``) summed per patch token: [h, w] (Eq. 1-2)."""
        from .model.tokens import pta_token_map

        if self.token_weights is None:
            return None
        return pta_token_map(self.token_weights[n], self.prepared.landmarks, self.aus[n], self.image_size,
                             self.grid)

    def au_tokens(self, n: int) -> np.ndarray:
        """Flat patch-token index (Eq. 1) of each Table I landmark of AU ``n``."""
        from .model.tokens import au_token_index

        return au_token_index(self.prepared.landmarks, self.aus[n], self.image_size, self.grid)

    def to_json(self) -> dict:
        from .aus import AU_LANDMARKS

        c = self.prepared
        pta = None
        if self.token_weights is not None:
            pta = {}
            for n, a in enumerate(self.aus):
                pts = AU_LANDMARKS.get(a, ())
                pta[f"AU{a}"] = {"landmarks": list(pts),
                                 "weights": [float(w) for w in self.token_weights[n, : len(pts)]],
                                 "tokens": [int(t) for t in self.au_tokens(n)]}
        return {
            "aus": list(self.aus),
            "probabilities": self.probabilities(),
            "threshold": self.threshold,
            "active_aus": [f"AU{a}" for a in self.active],
            "emotion": ({"available": True, "prediction": self.emotion, "scores": self.emotion_scores,
                         "method": "Eq. 13: sum over AUs of cos(AU feature, prompt of the emotion's AU set); argmax"}
                        if self.emotion is not None else {"available": False, "reason": self.emotion_note}),
            "inputs": self.inputs,
            "checkpoint": self.checkpoint,
            "pta_token_weights": pta,
            "token_grid": list(self.grid),
            "gda_dependency": (None if self.dependency is None
                               else {f"AU{a}": float(w) for a, w in zip(self.aus, self.dependency)}),
            "preparation": {
                "settings": self.prep_settings,
                "crop_box_xy_side": list(c.crop_box),
                "face_box_ltrb": list(c.face_box),
                "landmarks_xy": np.round(c.landmarks, 2).tolist(),
                "fallbacks": [r for r in c.fallback.split("; ") if r],
            },
        }

    def format_text(self) -> str:
        ck, inp = self.checkpoint, self.inputs
        lines = ["Micro-AU CLIP prediction"]
        tr = ck.get("training") or {}
        held = f", subject {tr['held_out_subject']} held out" if tr.get("held_out_subject") else ""
        lines.append(f"  checkpoint: {ck.get('path')} (variant {ck.get('variant')}, profile {ck.get('profile')}, "
                     f"trained on {ck.get('dataset')}{held}; data source: {ck.get('data_source')})")
        if inp.get("mode") == "video":
            lines.append(f"  video: {inp['video']}  onset frame {inp['onset_frame']}, apex frame "
                         f"{inp['apex_frame']} (0-based)")
        elif inp:
            lines.append(f"  onset: {inp.get('onset')}\n  apex:  {inp.get('apex')}")
        x0, y0, side = self.prepared.crop_box
        lines.append(f"  face crop: {side:.0f} px square at ({x0:.0f}, {y0:.0f}) -> {self.image_size} px; "
                     f"magnification {self.prep_settings.get('magnify')} x{self.prep_settings.get('magnify_factor')}")
        if ck.get("data_source") == "phantom":
            lines.append("  note: this model was trained on the phantom (simulated clips); on real faces its "
                         "outputs are not meaningful")
        lines.append(f"AU probabilities (active if p > {self.threshold}):")
        for a, p in zip(self.aus, self.probs):
            lines.append(f"  AU{a:<3d} {p:6.3f}  {'active' if p > self.threshold else ''}".rstrip())
        lines.append("active AUs: " + (", ".join(f"AU{a}" for a in self.active) or "none"))
        if self.emotion is not None:
            scores = ", ".join(f"{k} {v:.3f}" for k, v in self.emotion_scores.items())
            lines.append(f"emotion (label-free, Eq. 13): {self.emotion}   scores: {scores}")
        else:
            lines.append(f"emotion: {self.emotion_note}")
        return "\n".join(lines)


def predict_frames(loaded: LoadedModel, onset: np.ndarray, apex: np.ndarray, inputs: dict | None = None,
                   labels: tuple[str, str] = ("onset frame", "apex frame")) -> Prediction:
    """Prepare two RGB frames with the checkpoint's settings (strict: no fallbacks) and run the model."""
    import torch

    from .aus import EMOTION3_CLASSES
    from .mer import emotion_scores
    from .model.backbone import flow_images_to_tensor
    from .prep.pipeline import prepare_frames

    prepared = prepare_frames(onset, apex, loaded.prep, strict=True, labels=labels)
    model = loaded.model
    device = next(model.parameters()).device
    size = model.image_size  # as load_train_data: resized to the model's input, landmarks scaled with it
    images = flow_images_to_tensor(prepared.flow_image[None], size).to(device)
    landmarks = torch.as_tensor(prepared.landmarks[None], dtype=torch.float32, device=device) * (
        size / prepared.flow_image.shape[0])
    with torch.no_grad():
        out = model(images, landmarks)
        emotion = scores = None
        note = ""
        if model.text is not None:
            s = emotion_scores(out.au_features, model.prompt_features(), loaded.aus)[0].cpu().numpy()
            scores = {c: float(v) for c, v in zip(EMOTION3_CLASSES, s)}
            emotion = EMOTION3_CLASSES[int(np.argmax(s))]
        else:
            note = (f"label-free MER (Eq. 13) is unavailable for this variant ({loaded.cfg.variant}: "
                    f"contrastive='{loaded.cfg.contrastive}', so the model has no text tower)")
    return Prediction(
        aus=loaded.aus,
        probs=out.probs[0].cpu().numpy().astype(np.float64),
        emotion=emotion, emotion_scores=scores, emotion_note=note,
        token_weights=None if out.token_weights is None else out.token_weights[0].cpu().numpy(),
        dependency=None if out.dependency is None else out.dependency[0].cpu().numpy(),
        prepared=prepared, image_size=int(prepared.flow_image.shape[0]), grid=tuple(model.visual.grid),
        inputs=dict(inputs or {}), checkpoint=dict(loaded.info), prep_settings=loaded.prep.to_json(),
    )


def predict_images(loaded: LoadedModel, onset_path, apex_path) -> Prediction:
    """Predict from an onset and an apex image file."""
    on, ap = Path(onset_path).expanduser(), Path(apex_path).expanduser()
    onset = read_image(on, "onset image")
    apex = read_image(ap, "apex image")
    inputs = {"mode": "images", "onset": str(on.resolve()), "apex": str(ap.resolve())}
    return predict_frames(loaded, onset, apex, inputs, (f"onset image {on}", f"apex image {ap}"))


def predict_video(loaded: LoadedModel, video, onset_frame: int, apex_frame: int) -> Prediction:
    """Predict from two frames of a video (0-based indices in OpenCV's decoding order)."""
    v = Path(video).expanduser()
    onset, apex = read_video_frames(v, [onset_frame, apex_frame], ["onset frame", "apex frame"])
    inputs = {"mode": "video", "video": str(v.resolve()), "onset_frame": int(onset_frame),
              "apex_frame": int(apex_frame), "frame_index_base": 0,
              "frame_size_wh": [int(onset.shape[1]), int(onset.shape[0])]}
    return predict_frames(loaded, onset, apex, inputs,
                          (f"onset frame {onset_frame} of {v}", f"apex frame {apex_frame} of {v}"))


def write_report(pred: Prediction, out_dir) -> tuple[Path, Path]:
    """``report.json`` and ``overlay.png`` in ``out_dir`` (each written to a temporary name and
    renamed); returns both paths."""
    from .figures import prediction_overlay
    from .prep.cache import new_temp_path

    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    png, rep = out / OVERLAY_FILE, out / REPORT_FILE
    data = pred.to_json()
    data["overlay_png"] = OVERLAY_FILE
    for path, write in ((png, lambda tmp: prediction_overlay(pred).savefig(tmp, dpi=100, format="png")),
                        (rep, lambda tmp: tmp.write_text(json.dumps(data, indent=2)))):
        tmp = new_temp_path(out, f".{path.name}.", ".partial")
        try:
            write(tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    return rep, png


def sheet_comparison(pred: Prediction, sample) -> dict:
    """One row comparing a prediction with a clip's coding-sheet entry (a
    :class:`microau.data.types.Sample`): coded and predicted AUs (the model's AUs only) and the
    coded and guessed emotion."""
    coded = [a for a in pred.aus if a in sample.aus]
    return {
        "clip": sample.id,
        "AUs coded (sheet)": ", ".join(f"AU{a}" for a in coded) or "none",
        "AUs predicted active": ", ".join(f"AU{a}" for a in pred.active) or "none",
        "emotion coded (3-class)": sample.emotion3 or "outside the 3 classes",
        "emotion guessed (Eq. 13)": pred.emotion or "unavailable",
    }
