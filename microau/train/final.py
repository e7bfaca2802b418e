"""The final model: trained on every subject of a data set (or all but one) and saved as a
checkpoint for ``microau predict`` (format: :mod:`microau.checkpoint`)."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..checkpoint import CHECKPOINT_FORMAT, CheckpointError, read_checkpoint, save_checkpoint  # noqa: F401
from ..config import Config
from ..data.registry import prep_settings_for
from ..model.micro_au_clip import MicroAUCLIP
from .data import TrainData

log = logging.getLogger(__name__)


def train_all_subjects(cfg: Config, data: TrainData, progress: bool = True) -> MicroAUCLIP:
    """Train one model on all clips (same schedule and batch rules as a LOSO fold)."""
    from tqdm.auto import tqdm

    from .common import epoch_batches
    from .fast import train_stacked

    rows = np.arange(len(data.ids))
    seed_fold = len(data.fold_subjects)  # batch order of a fold number no LOSO fold uses
    steps = len(epoch_batches(len(rows), cfg.batch_size, cfg.seed, seed_fold, 0)) * cfg.epochs
    bar = tqdm(total=steps, disable=not progress, desc="train on all subjects", unit="step")
    on_step = lambda loss, n=1: (bar.update(n), bar.set_postfix_str(f"loss {loss:.3f}", refresh=False))  # noqa: E731
    model, stacked, _, _, epoch_loss = train_stacked(cfg, data, [rows], [seed_fold], on_step=on_step)
    bar.close()
    state = model.state_dict()
    for name, value in stacked.items():
        state[name.removeprefix("model.")] = value[0].detach()
    model.load_state_dict(state)
    model.eval()
    model.epoch_loss = epoch_loss[0]
    return model


def subset_train_data(data: TrainData, keep) -> TrainData:
    """The rows of ``data`` where ``keep`` (bool [M]) is true."""
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


def train_final(cfg: Config, out, hold_out_subject: str | None = None, workers: int | None = None,
                progress: bool = True, extra: dict | None = None) -> Path:
    """Train on every subject of ``cfg.dataset`` (all but ``hold_out_subject`` if given) and save a
    checkpoint to ``out``; returns its path."""
    from ..prep.pipeline import default_workers
    from .data import load_train_data

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


def checkpoint_key(cfg: Config, hold_out_subject: str | None = None) -> str:
    """Short digest of what a ``train-final`` checkpoint depends on (config, held-out subject,
    preparation settings, microau version); the device is left out."""
    from .. import __version__

    values = {k: v for k, v in cfg.to_dict().items() if k not in ("device", "notes")}
    blob = json.dumps([values, hold_out_subject, prep_settings_for(cfg).to_json(), __version__],
                      sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def checkpoint_path(cfg: Config, runs_dir, hold_out_subject: str | None = None) -> Path:
    """Where :func:`ensure_checkpoint` keeps the checkpoint of ``cfg``:
    ``runs_dir/predict/<profile>/<dataset>-<variant>[-without-<subject>]-<key>.pt``."""
    held = f"-without-{hold_out_subject}" if hold_out_subject else ""
    key = checkpoint_key(cfg, hold_out_subject)
    return (Path(runs_dir) / "predict" / cfg.profile /
            f"{cfg.dataset}-{cfg.variant.replace('/', '_')}{held}-{key}.pt")


def ensure_checkpoint(cfg: Config, runs_dir, hold_out_subject: str | None = None, progress: bool = False) -> Path:
    """The checkpoint of ``cfg`` (all subjects but ``hold_out_subject``) under
    :func:`checkpoint_path`: read back if a whole one with the same settings is there, else
    trained and saved (a damaged or foreign file there is reported and replaced)."""
    key = checkpoint_key(cfg, hold_out_subject)
    path = checkpoint_path(cfg, runs_dir, hold_out_subject)
    if path.is_file():
        try:
            if read_checkpoint(path).get("checkpoint_key") == key:
                log.info("checkpoint read back from %s", path)
                return path
            log.warning("checkpoint %s was made with other settings: training it again", path)
        except CheckpointError as err:
            log.warning("%s: training it again", err)
    train_final(cfg, path, hold_out_subject=hold_out_subject, progress=progress, extra={"checkpoint_key": key})
    return path


@dataclass
class HeldOutModel:
    """A final model trained without one subject, and that subject's clips to try it on."""

    cfg: Config
    checkpoint: Path
    held_out: str | None  # None: trained on every subject
    samples: list  # microau.data.types.Sample of the subject shown
    runs_dir: Path

    def report_dir(self, sample) -> Path:
        """Where the demo writes the report of one of :attr:`samples`:
        ``runs_dir/predict/<profile>/demo/<dataset>/<clip id>``."""
        return (Path(self.runs_dir) / "predict" / self.cfg.profile / "demo" / self.cfg.dataset /
                sample.id.replace("/", "_"))

    def describe(self) -> str:
        seen = (f"subject {self.held_out} held out of training; its clips below are unseen" if self.held_out
                else "trained on every subject: the clips below were part of its training data")
        return f"**{self.cfg.dataset}**, profile {self.cfg.profile}: checkpoint `{self.checkpoint}` ({seen})."


def resolve_held_out(subjects: list[str], hold_out_subject: str | None) -> str | None:
    """'last' -> the last subject in sorted order; a name is checked; None stays None."""
    if hold_out_subject is None:
        return None
    if hold_out_subject == "last":
        return sorted(subjects)[-1]
    if hold_out_subject not in subjects:
        raise ValueError(f"hold_out_subject {hold_out_subject!r} is not a subject of the data set "
                         f"(subjects: {', '.join(sorted(subjects))})")
    return hold_out_subject


def held_out_model(cfg: Config, runs_dir, hold_out_subject: str | None = "last", n_clips: int = 3,
                   checkpoint=None, train_missing: bool = True) -> HeldOutModel:
    """The model of ``cfg`` trained without ``hold_out_subject`` ('last', a name, or None), read
    back or trained (:func:`ensure_checkpoint`), and the first ``n_clips`` clips of that subject
    (of the last subject when none is held out). With ``checkpoint`` (a path) that file is used
    as it is and its own held-out subject is shown. Without ``train_missing`` a model that is not
    cached yet is an error (``microau reproduce`` trains it before the page is executed)."""
    from ..data.registry import samples_for

    if checkpoint is not None:
        held = (read_checkpoint(checkpoint).get("training") or {}).get("held_out_subject") or None
    samples = samples_for(cfg)
    subjects = sorted({s.subject for s in samples})
    if checkpoint is None:
        held = resolve_held_out(subjects, hold_out_subject)
        if not train_missing and not checkpoint_path(cfg, runs_dir, held).is_file():
            raise FileNotFoundError(
                f"no cached model of {cfg.dataset} without {held} in {Path(runs_dir) / 'predict'}; "
                "train it with `microau reproduce --only predict_demo` or pass train_missing=True")
        checkpoint = ensure_checkpoint(cfg, runs_dir, held)
    shown = held if held is not None else subjects[-1]
    return HeldOutModel(cfg, Path(checkpoint), held, [s for s in samples if s.subject == shown][:n_clips],
                        Path(runs_dir))


def checkpoint_config(path, device: str = "cpu", data_root: dict | None = None) -> Config:
    """The config a checkpoint was trained with, set to run on ``device`` and to read its data set
    from ``data_root`` (a ``{dataset: DIR}`` map; the phantom needs none)."""
    from ..data.registry import root_from_map

    cfg = Config.from_dict(dict(read_checkpoint(path)["config"]))
    return cfg.replace(device=device, data_root=root_from_map(cfg.dataset, data_root))
