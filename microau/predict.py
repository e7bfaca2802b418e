"""Apply a trained model to your own clip: ``microau train-final`` and ``microau predict``.

    microau train-final --dataset phantom-casme2 --profile quick --variant full --out model.pt
    microau predict --checkpoint model.pt --onset onset.jpg --apex apex.jpg [--out DIR]
    microau predict --checkpoint model.pt --video clip.mp4 --onset-frame 12 --apex-frame 40 [--out DIR]

``train-final`` trains one model on every clip of a data set (``--hold-out-subject S`` leaves one
subject out, to try ``predict`` on clips the model has not seen) and saves a checkpoint
(:func:`microau.train.final.save_checkpoint`) that holds the model's config, its AU list and the
preparation settings the training data were prepared with.

``predict`` reads the checkpoint with ``torch.load(weights_only=True)`` (it never unpickles code),
prepares the two frames exactly as the training clips were prepared
(:func:`microau.prep.pipeline.prepare_frames` with the checkpoint's settings: face box from the
onset, crop, magnification, TV-L1 flow image, 68 landmarks), and reports per AU the probability
that it is active (Eq. 7; active if p > 0.5) and the label-free emotion guess of Eq. 13 (models
with a text tower only). Unlike training, where a clip without a detectable face falls back to a
centred crop, ``predict`` stops with an error if either frame shows no face or the two frames
differ in size.

Video frames are read with OpenCV's ``cv2.VideoCapture`` in decoding order and counted from 0:
``--onset-frame 0`` is the first frame the video decodes to.

``--out DIR`` writes ``report.json`` (everything printed, plus the inputs, the checkpoint's
provenance, the preparation and the PTA/GDA weights) and ``overlay.png`` (the magnified apex crop
with its landmarks, the flow image, the AU probabilities, GDA's dependency weights W_d (Eq. 5),
and per AU the PTA weights (Eq. 2) summed per patch token over the AU's Table I landmarks).

Every error about the inputs or the checkpoint is a ``ValueError`` or ``FileNotFoundError`` whose
message says what was wrong and what to do; the CLI prints it without a traceback and exits 2.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .prep.pipeline import FrameSizeError, NoFaceError, UnreadableFrameError  # noqa: F401 (re-exported)

log = logging.getLogger(__name__)

THRESHOLD = 0.5  # Eq. 7: an AU is active if P_n(active) > 0.5
REPORT_FILE = "report.json"
OVERLAY_FILE = "overlay.png"
DATASETS = ("phantom-casme2", "phantom-samm", "casme2", "samm")
_REQUIRED_KEYS = ("format", "config", "aus", "prep_settings", "state_dict")


class CheckpointError(ValueError):
    """The file is not a microau checkpoint, or not one this version can apply."""


class UnreadableVideoError(ValueError):
    """OpenCV cannot open or decode a video file."""


class FrameIndexError(ValueError):
    """A video frame index is negative or past the last frame."""


# --------------------------------------------------------------------------- training


def prep_settings_for(cfg):
    """The preparation settings ``load_train_data`` uses for a config (magnification as
    configured, everything else at its default)."""
    from .prep.pipeline import PrepSettings

    return PrepSettings(magnify=cfg.magnify, learned_checkpoint=cfg.magnify_checkpoint)


def subset_train_data(data, keep):
    """The rows of a :class:`microau.train.data.TrainData` where ``keep`` (bool [M]) is true."""
    import torch

    keep = np.asarray(keep, bool)
    rows = np.flatnonzero(keep)
    idx = torch.as_tensor(rows, device=data.images.device)
    ids = [data.ids[i] for i in rows]
    pick = lambda values: [values[i] for i in rows] if len(values) == len(keep) else list(values)  # noqa: E731
    return dataclasses.replace(
        data, ids=ids, subjects=pick(data.subjects), emotion3=pick(data.emotion3),
        emotion=pick(data.emotion), images=data.images[idx], landmarks=data.landmarks[idx],
        labels=data.labels[idx], fallbacks={k: v for k, v in data.fallbacks.items() if k in set(ids)},
    )


def train_final(cfg, out, hold_out_subject: str | None = None, workers: int | None = None,
                progress: bool = True, extra: dict | None = None) -> Path:
    """Train on every subject of ``cfg.dataset`` (all but ``hold_out_subject`` if given) and save a
    checkpoint to ``out``; returns its path."""
    from .prep.pipeline import default_workers
    from .train.data import load_train_data
    from .train.final import save_checkpoint, train_all_subjects

    data = load_train_data(cfg, workers=workers or default_workers(), progress=progress)
    subjects = data.fold_subjects
    if hold_out_subject is not None:
        if hold_out_subject not in subjects:
            raise ValueError(f"--hold-out-subject {hold_out_subject!r} is not a subject of {cfg.dataset} "
                             f"(subjects: {', '.join(subjects)})")
        data = subset_train_data(data, [s != hold_out_subject for s in data.subjects])
    if cfg.device != "cpu":
        data.to(cfg.device)  # as run_loso: everything on the training device
    model = train_all_subjects(cfg, data, progress=progress)
    loss = getattr(model, "epoch_loss", [])
    training = {
        "dataset": cfg.dataset,
        "subjects": sorted(set(data.subjects)),
        "held_out_subject": hold_out_subject,
        "n_clips": len(data.ids),
        "epochs": int(cfg.epochs),
        "epoch_loss": [float(v) for v in (loss.tolist() if hasattr(loss, "tolist") else loss)],
        "prep_fallbacks": dict(data.fallbacks),
    }
    return save_checkpoint(model, out, prep_settings_for(cfg).to_json(), data.source,
                           {"training": training, **(extra or {})})


def checkpoint_key(cfg, hold_out_subject: str | None = None) -> str:
    """Short digest of what a ``train-final`` checkpoint depends on (config, held-out subject,
    preparation settings, microau version); the device is left out."""
    import hashlib

    values = {k: v for k, v in cfg.to_dict().items() if k not in ("device", "notes")}
    blob = json.dumps([values, hold_out_subject, prep_settings_for(cfg).to_json(), _version()],
                      sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def ensure_checkpoint(cfg, runs_dir, hold_out_subject: str | None = None, progress: bool = False) -> Path:
    """The checkpoint of ``cfg`` (all subjects but ``hold_out_subject``) under
    ``runs_dir/predict/<profile>/``: read back if a finished one with the same settings is there,
    else trained and saved."""
    import torch

    key = checkpoint_key(cfg, hold_out_subject)
    held = f"-without-{hold_out_subject}" if hold_out_subject else ""
    path = (Path(runs_dir) / "predict" / cfg.profile /
            f"{cfg.dataset}-{cfg.variant.replace('/', '_')}{held}-{key}.pt")
    if path.is_file():
        try:
            if torch.load(path, map_location="cpu", weights_only=True).get("checkpoint_key") == key:
                log.info("checkpoint read back from %s", path)
                return path
        except Exception:  # a partial or foreign file: train again
            pass
    tmp = path.with_suffix(".partial")
    train_final(cfg, tmp, hold_out_subject=hold_out_subject, progress=progress, extra={"checkpoint_key": key})
    tmp.replace(path)
    return path


# --------------------------------------------------------------------------- checkpoint


@dataclass
class LoadedModel:
    """A checkpoint read back and its model built: what :func:`predict_frames` needs."""

    model: object  # MicroAUCLIP in eval mode
    cfg: object  # microau.config.Config as trained
    aus: tuple[int, ...]
    prep: object  # microau.prep.pipeline.PrepSettings
    info: dict  # provenance for reports

    @property
    def has_text(self) -> bool:
        return self.model.text is not None


def _short(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def load_checkpoint(path, device: str = "cpu") -> LoadedModel:
    """Read a ``train-final`` checkpoint (``torch.load(weights_only=True)``) and rebuild its model.

    Raises :class:`CheckpointError` for a file that is not a microau checkpoint, an unknown
    format, a config this version does not know, or a state dict that does not fit the model the
    checkpoint's config and AU set build."""
    import torch

    from .aus import DATASET_AUS, check_aus
    from .config import Config
    from .model.micro_au_clip import MicroAUCLIP
    from .prep.pipeline import PrepSettings
    from .train.final import CHECKPOINT_FORMAT

    p = Path(path).expanduser()
    make = "make one with `microau train-final --dataset ... --out FILE`"
    if not p.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {p} ({make})")
    try:
        ck = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as err:  # UnpicklingError, RuntimeError (not a zip/pickle), EOFError, ...
        raise CheckpointError(
            f"{p} is not a microau checkpoint: torch.load(weights_only=True) cannot read it "
            f"({type(err).__name__}: {_short(err)}); give a file written by `microau train-final`") from None
    if not isinstance(ck, dict) or not all(k in ck for k in _REQUIRED_KEYS):
        have = sorted(map(str, ck))[:8] if isinstance(ck, dict) else type(ck).__name__
        missing = [k for k in _REQUIRED_KEYS if not isinstance(ck, dict) or k not in ck]
        raise CheckpointError(
            f"{p} is not a microau checkpoint: it lacks {missing} (it holds {have}); a bare state dict "
            f"or another project's checkpoint cannot be used; {make}")
    if ck["format"] != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{p} has checkpoint format {ck['format']!r}, but this microau "
            f"(version {_version()}) reads format {CHECKPOINT_FORMAT} only (the file was written by "
            f"microau {ck.get('microau_version', '?')}); use the microau version that wrote it, or retrain "
            "with `microau train-final`")
    try:
        cfg = Config.from_dict(dict(ck["config"]))
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{p}: its model config does not fit this microau version: {err}") from None
    aus = tuple(int(a) for a in ck["aus"])
    try:
        check_aus(aus, need_landmarks=cfg.lsi != "none")
    except ValueError as err:
        raise CheckpointError(f"{p}: {err}") from None
    expected = DATASET_AUS.get(cfg.base_dataset)
    if expected is not None and aus != tuple(expected):
        raise CheckpointError(
            f"{p} was made for another AU set: it lists AUs {list(aus)}, but its config's data set "
            f"{cfg.dataset!r} uses AUs {list(expected)} (microau.aus.DATASET_AUS); the file was "
            "edited or written by another version; retrain with `microau train-final`")
    try:
        prep = PrepSettings(**dict(ck["prep_settings"]))
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{p}: its preparation settings do not fit this microau version: {err}") from None

    # random init, then every tensor from the file (no pretrained weights are fetched)
    model = MicroAUCLIP(cfg.replace(pretrained=None, device=device), aus)
    state = ck["state_dict"]
    if not isinstance(state, dict):
        raise CheckpointError(f"{p} is not a microau checkpoint: 'state_dict' is a {type(state).__name__}")
    _check_state(p, model, state, cfg, aus)
    model.load_state_dict(state, strict=True)
    model.to(device).eval()
    info = {
        "path": str(p.resolve()),
        "format": ck["format"],
        "microau_version": ck.get("microau_version"),
        "torch_version": ck.get("torch_version"),
        "dataset": cfg.dataset,
        "profile": cfg.profile,
        "variant": cfg.variant,
        "clip_model": cfg.clip_model,
        "data_source": ck.get("data_source"),
        "aus": list(aus),
        "training": ck.get("training"),
    }
    return LoadedModel(model=model, cfg=cfg, aus=aus, prep=prep, info=info)


def _check_state(path: Path, model, state: dict, cfg, aus) -> None:
    """Name what differs between a checkpoint's state dict and the model its config builds."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k}: file {list(state[k].shape)} vs model {list(own[k].shape)}"
              for k in own
              if k in state and hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(own[k].shape)]
    if not (missing or unexpected or shapes):
        return
    parts = []
    for what, items in (("missing", missing), ("unexpected", unexpected), ("with another shape", shapes)):
        if items:
            parts.append(f"{len(items)} tensor(s) {what} (e.g. {'; '.join(items[:3])})")
    raise CheckpointError(
        f"{path} does not fit the model its config builds (clip_model={cfg.clip_model}, lsi={cfg.lsi}, "
        f"gsd={cfg.gsd}, contrastive={cfg.contrastive}, AUs {list(aus)}): {', '.join(parts)}. It was "
        "made for another AU set or model config, or edited; retrain with `microau train-final`")


def _version() -> str:
    from . import __version__

    return __version__


# --------------------------------------------------------------------------- inputs


def read_image(path, label: str = "onset image") -> np.ndarray:
    """uint8 RGB [H, W, 3] from an image file, with a message naming the frame if it fails."""
    from .prep.pipeline import read_frame

    p = Path(path).expanduser()
    if not p.is_file():
        raise UnreadableFrameError(f"{label} not found: {p}")
    try:
        return read_frame(p)
    except UnreadableFrameError:
        raise UnreadableFrameError(
            f"cannot read the {label} {p}: OpenCV cannot decode it as an image "
            "(give a JPEG, PNG, BMP or TIFF file)") from None


def read_video_frames(path, indices: list[int], labels: list[str] | None = None) -> list[np.ndarray]:
    """uint8 RGB frames at the given 0-based indices of a video, read with ``cv2.VideoCapture``
    in decoding order (the first frame decoded is frame 0). Raises :class:`FrameIndexError` with
    the video's frame count if an index is past the end."""
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
            raise FrameIndexError(
                f"the {bad[1]} index {bad[0]} is out of range: the video {p} has {n} frames "
                f"(indices 0 to {n - 1}, counted from 0 in the order OpenCV decodes them)")
    finally:
        cap.release()
    out = []
    for i in indices:
        f = got[int(i)]
        f = cv2.cvtColor(f, cv2.COLOR_GRAY2RGB) if f.ndim == 2 else cv2.cvtColor(f[..., :3], cv2.COLOR_BGR2RGB)
        out.append(f)
    return out


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
    image_size: int
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
        if self.token_weights is None:
            return None
        tok = self.au_tokens(n)
        out = np.zeros(self.grid[0] * self.grid[1])
        np.add.at(out, tok, self.token_weights[n, : len(tok)])
        return out.reshape(self.grid)

    def au_tokens(self, n: int) -> np.ndarray:
        """Flat patch-token index (Eq. 1) of each Table I landmark of AU ``n``."""
        import torch

        from .aus import AU_LANDMARKS
        from .model.tokens import landmark_token_index

        pts = self.prepared.landmarks[list(AU_LANDMARKS[self.aus[n]])]
        return landmark_token_index(torch.as_tensor(pts, dtype=torch.float32),
                                    (self.image_size, self.image_size), self.grid).numpy()

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
    images = flow_images_to_tensor(prepared.flow_image[None]).to(device)  # as load_train_data
    landmarks = torch.as_tensor(prepared.landmarks[None], dtype=torch.float32, device=device)
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
        prepared=prepared, image_size=int(model.image_size), grid=tuple(model.visual.grid),
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


# --------------------------------------------------------------------------- report


def overlay_figure(pred: Prediction):
    """A matplotlib Figure: the magnified apex crop with landmarks, the flow image, the AU
    probabilities, GDA's W_d, and per AU the PTA weights on the patch-token grid."""
    from matplotlib.figure import Figure

    from .aus import AU_LANDMARKS

    c = pred.prepared
    n_aus = len(pred.aus)
    ncols = 4
    nrows = 1 + math.ceil(n_aus / ncols)
    fig = Figure(figsize=(3.0 * ncols, 3.1 * nrows), dpi=100)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    S = pred.image_size
    lm = c.landmarks
    au_pts = sorted({j for a in pred.aus for j in AU_LANDMARKS.get(a, ())})

    def face(ax, img, title, grey=False):
        ax.imshow(img.mean(-1) if grey else img, cmap="gray" if grey else None, extent=(0, S, S, 0),
                  vmin=0, vmax=255)
        ax.set_xlim(0, S)
        ax.set_ylim(S, 0)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize=9)

    def grid_lines(ax, color="white"):
        h, w = pred.grid
        for k in range(1, w):
            ax.axvline(k * S / w, color=color, lw=0.5, alpha=0.6)
        for k in range(1, h):
            ax.axhline(k * S / h, color=color, lw=0.5, alpha=0.6)

    ax = axes[0, 0]
    face(ax, c.magnified, "magnified apex crop, 68 landmarks\n(red: Table I AU landmarks)")
    ax.scatter(lm[:, 0], lm[:, 1], s=4, c="white")
    ax.scatter(lm[au_pts, 0], lm[au_pts, 1], s=8, c="red")
    grid_lines(ax)
    ax = axes[0, 1]
    face(ax, c.flow_image, "flow image (onset -> magnified apex)")
    ax.scatter(lm[:, 0], lm[:, 1], s=3, c="white", alpha=0.7)

    names = [f"AU{a}" for a in pred.aus]
    y = np.arange(n_aus)
    ax = axes[0, 2]
    ax.barh(y, pred.probs, color=["#d62728" if p > pred.threshold else "#7f7f7f" for p in pred.probs])
    ax.axvline(pred.threshold, color="k", lw=0.8, ls="--")
    ax.set_xlim(0, 1)
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    ax.set_title("P(active), Eq. 7 (red: p > 0.5)", fontsize=9)
    ax.tick_params(labelsize=8)
    ax = axes[0, 3]
    if pred.dependency is not None:
        ax.barh(y, pred.dependency, color="#1f77b4")
        ax.set_xlim(0, max(1e-6, float(np.max(pred.dependency))) * 1.15)
        ax.set_yticks(y, names, fontsize=8)
        ax.invert_yaxis()
        ax.set_title("GDA dependency weights W_d (Eq. 5)", fontsize=9)
        ax.tick_params(labelsize=8)
    else:
        ax.axis("off")
        ax.set_title("no GDA dependency weights\n(this variant has no GDA)", fontsize=9)

    for n, a in enumerate(pred.aus):
        ax = axes[1 + n // ncols, n % ncols]
        p = pred.probs[n]
        face(ax, c.magnified, f"AU{a}: p = {p:.2f}{' (active)' if p > pred.threshold else ''}", grey=True)
        heat = pred.token_map(n)
        if heat is not None:
            # tokens without any of the AU's landmarks stay uncoloured
            im = ax.imshow(np.ma.masked_equal(heat, 0.0), extent=(0, S, S, 0), cmap="magma", alpha=0.6, vmin=0,
                           vmax=max(1e-6, float(heat.max())), interpolation="nearest")
            cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
            cb.ax.tick_params(labelsize=7)
        else:
            ax.set_title(ax.get_title() + "\n(no PTA weights in this variant)", fontsize=9)
        pts = list(AU_LANDMARKS.get(a, ()))
        ax.scatter(lm[pts, 0], lm[pts, 1], s=10, c="cyan", edgecolors="k", linewidths=0.3)
        grid_lines(ax, "white")
    for k in range(n_aus, (nrows - 1) * ncols):
        axes[1 + k // ncols, k % ncols].axis("off")

    if pred.emotion is not None:
        sc = "  ".join(f"{k} {v:.2f}" for k, v in pred.emotion_scores.items())
        emo = f"emotion (Eq. 13): {pred.emotion}  [{sc}]"
    else:
        emo = "emotion: unavailable for this variant (no text tower)"
    ck = pred.checkpoint
    fig.suptitle(f"{ck.get('variant')} model, {ck.get('profile')} profile, trained on {ck.get('dataset')} · "
                 f"active: {', '.join(f'AU{a}' for a in pred.active) or 'none'} · {emo}\n"
                 "PTA weights (Eq. 2) summed per patch token over each AU's landmarks (cyan)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / nrows))
    return fig


def write_report(pred: Prediction, out_dir) -> tuple[Path, Path]:
    """``report.json`` and ``overlay.png`` in ``out_dir``; returns both paths."""
    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    png = out / OVERLAY_FILE
    overlay_figure(pred).savefig(png, dpi=100)
    data = pred.to_json()
    data["overlay_png"] = OVERLAY_FILE
    rep = out / REPORT_FILE
    rep.write_text(json.dumps(data, indent=2))
    return rep, png


# --------------------------------------------------------------------------- CLI


def _train_final_main(args) -> int:
    from .config import make_config

    cfg = make_config(args.profile, args.variant, dataset=args.dataset, data_root=args.root,
                      device=args.device, epochs=args.epochs, n_subjects=args.subjects)
    path = train_final(cfg, args.out, hold_out_subject=args.hold_out_subject, workers=args.workers,
                       progress=not args.no_progress)
    held = f", subject {args.hold_out_subject} held out" if args.hold_out_subject else ""
    print(f"checkpoint: {path} ({cfg.dataset}{held}, variant {cfg.variant}, profile {cfg.profile})")
    print(f"apply it: microau predict --checkpoint {path} --onset ONSET.jpg --apex APEX.jpg [--out DIR]")
    return 0


def _predict_main(args) -> int:
    images = args.onset is not None or args.apex is not None
    video = args.video is not None or args.onset_frame is not None or args.apex_frame is not None
    usage = ("give either --onset ONSET_IMAGE --apex APEX_IMAGE, or --video VIDEO --onset-frame I "
             "--apex-frame J (0-based frame indices)")
    if images == video:
        raise ValueError(usage)
    if images and (args.onset is None or args.apex is None):
        raise ValueError(f"both --onset and --apex are needed: {usage}")
    if video and (args.video is None or args.onset_frame is None or args.apex_frame is None):
        raise ValueError(f"--video needs --onset-frame and --apex-frame: {usage}")
    loaded = load_checkpoint(args.checkpoint, device=args.device)
    if images:
        pred = predict_images(loaded, args.onset, args.apex)
    else:
        pred = predict_video(loaded, args.video, args.onset_frame, args.apex_frame)
    print(pred.format_text())
    if args.out:
        rep, png = write_report(pred, args.out)
        print(f"report: {rep}\noverlay: {png}")
    return 0


def register(sub) -> None:
    from .config import PROFILES, VARIANTS

    t = sub.add_parser(
        "train-final", help="train one model on every subject of a data set and save a checkpoint",
        description="Train one model on all clips of a data set (optionally all subjects but one) "
                    "and save a checkpoint with its config, AU list and preparation settings, for "
                    "`microau predict`.")
    t.add_argument("--dataset", default="phantom-casme2", choices=DATASETS)
    t.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    t.add_argument("--variant", default="full", choices=sorted(VARIANTS), metavar="VARIANT",
                   help="'full' or a table row, e.g. table2/lsi_only (see microau.config.VARIANTS)")
    t.add_argument("--out", required=True, help="checkpoint file to write, e.g. model.pt")
    t.add_argument("--root", default=None, help="dataset root (required for casme2/samm)")
    t.add_argument("--device", default=None, help="cpu (default) or cuda")
    t.add_argument("--epochs", type=int, default=None, help="override the profile's epoch count")
    t.add_argument("--subjects", type=int, default=None, help="keep only the first K subjects")
    t.add_argument("--hold-out-subject", default=None, metavar="SUBJECT",
                   help="leave this subject out of training (e.g. sub26), to try predict on unseen clips")
    t.add_argument("--workers", type=int, default=None, help="preparation threads")
    t.add_argument("--no-progress", action="store_true")
    t.set_defaults(func=_train_final_main)

    p = sub.add_parser(
        "predict", help="AU probabilities and a label-free emotion guess for your own clip",
        description="Apply a `microau train-final` checkpoint to an onset/apex pair: two image "
                    "files, or two frames of a video (0-based indices, read with OpenCV's "
                    "VideoCapture in decoding order). The frames are prepared as in training "
                    "(face crop, magnification, TV-L1 flow, landmarks); no face in either frame "
                    "or frames of different sizes are errors.")
    p.add_argument("--checkpoint", required=True, help="file written by `microau train-final`")
    p.add_argument("--onset", default=None, metavar="IMAGE", help="onset frame image")
    p.add_argument("--apex", default=None, metavar="IMAGE", help="apex frame image")
    p.add_argument("--video", default=None, help="video file holding both frames")
    p.add_argument("--onset-frame", type=int, default=None, metavar="I", help="onset frame index (0-based)")
    p.add_argument("--apex-frame", type=int, default=None, metavar="J", help="apex frame index (0-based)")
    p.add_argument("--out", default=None, metavar="DIR", help=f"write {REPORT_FILE} and {OVERLAY_FILE} here")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.set_defaults(func=_predict_main)
