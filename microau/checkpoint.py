"""The checkpoint file of ``microau train-final``: what it holds, how it is written, how it is read.

A checkpoint is a plain dict of tensors, strings and numbers (``format``, ``microau_version``,
``torch_version``, ``config``, ``aus``, ``prep_settings``, ``data_source``, ``state_dict``, and
free extras such as ``training``). It is written to a temporary name and renamed, and read with
``torch.load(weights_only=True)``: a file that holds any other Python object is refused, never
unpickled. Every refusal is a :class:`CheckpointError` that says what the file is and how to make
a proper checkpoint.
"""
from __future__ import annotations

import logging
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1
REQUIRED_KEYS = ("format", "config", "aus", "prep_settings", "state_dict")
MAKE_ONE = "make one with `microau train-final --dataset ... --out FILE`"


class CheckpointError(ValueError):
    """The file is not a microau checkpoint, or not one this version can apply."""


@dataclass
class LoadedModel:
    """A checkpoint read back and its model built: what :func:`microau.predict.predict_frames` needs."""

    model: object  # MicroAUCLIP in eval mode
    cfg: object  # microau.config.Config as trained
    aus: tuple[int, ...]
    prep: object  # microau.prep.pipeline.PrepSettings
    info: dict  # provenance for reports

    @property
    def has_text(self) -> bool:
        return self.model.text is not None


def _version() -> str:
    from . import __version__

    return __version__


# --------------------------------------------------------------------------- writing


def checkpoint_dict(model, prep_settings: dict, data_source: str, extra: dict | None = None) -> dict:
    """What a checkpoint file holds for ``model`` (tensors moved to the CPU)."""
    import torch

    return {
        "format": CHECKPOINT_FORMAT,
        "microau_version": _version(),
        "torch_version": str(torch.__version__),
        "config": {k: v for k, v in model.cfg.to_dict().items() if k != "notes"},
        "aus": list(model.aus),
        "prep_settings": dict(prep_settings),
        "data_source": data_source,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        **(extra or {}),
    }


def save_checkpoint(model, path: str | Path, prep_settings: dict, data_source: str,
                    extra: dict | None = None) -> Path:
    """Write ``model``'s checkpoint to ``path`` through a temporary file in the same folder and a
    rename, so an interrupted save leaves no half-written checkpoint under ``path``."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    try:
        torch.save(checkpoint_dict(model, prep_settings, data_source, extra), tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("checkpoint written to %s", path)
    return path


# --------------------------------------------------------------------------- reading


def _refusal(path: Path, err: BaseException) -> str:
    """Why ``torch.load(weights_only=True)`` refused ``path``, in our words: PyTorch's own message
    suggests ``weights_only=False``, advice microau must not relay."""
    text = str(err)
    found = re.search(r"GLOBAL\s+([\w.]+)", text)
    if "Weights only load failed" in text and found:  # a pickle that refers to a class or function
        what = f" (it refers to {found.group(1)})"
        return (f"{path} is not a microau checkpoint: it holds pickled Python objects{what}, such as a "
                "whole model saved with torch.save(model) or a file made to run code when it is opened. "
                "torch.load(weights_only=True) cannot read it, and microau never unpickles such a "
                f"file. A checkpoint holds tensors, numbers and strings only; {MAKE_ONE}")
    if "zip archive" in text or "central directory" in text:
        return (f"{path} is a damaged or truncated PyTorch file: torch.load(weights_only=True) cannot "
                "read it (its zip directory is missing). Copy it again from where it was made, or "
                f"{MAKE_ONE}")
    return (f"{path} is not a microau checkpoint: torch.load(weights_only=True) cannot read it (it is "
            f"not a file written by torch.save; the reader stopped with {type(err).__name__}); give a file "
            f"written by `microau train-final`, or {MAKE_ONE}")


def read_checkpoint(path) -> dict:
    """The raw dict of a checkpoint file, checked to have every key a checkpoint needs.

    Raises FileNotFoundError for a missing file and :class:`CheckpointError` for anything that
    ``torch.load(weights_only=True)`` refuses, that lacks a key, or has another format number."""
    import torch

    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {p} ({MAKE_ONE})")
    try:
        ck = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as err:  # UnpicklingError, RuntimeError (not a zip/pickle), EOFError, KeyError...
        raise CheckpointError(_refusal(p, err)) from None
    if not isinstance(ck, dict) or not all(k in ck for k in REQUIRED_KEYS):
        have = sorted(map(str, ck))[:8] if isinstance(ck, dict) else type(ck).__name__
        missing = [k for k in REQUIRED_KEYS if not isinstance(ck, dict) or k not in ck]
        raise CheckpointError(
            f"{p} is not a microau checkpoint: it lacks {missing} (it holds {have}); a bare state dict "
            f"or another project's checkpoint cannot be used; {MAKE_ONE}")
    if ck["format"] != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{p} has checkpoint format {ck['format']!r}, but this microau "
            f"(version {_version()}) reads format {CHECKPOINT_FORMAT} only (the file was written by "
            f"microau {ck.get('microau_version', '?')}); use the microau version that wrote it, or retrain "
            "with `microau train-final`")
    if not isinstance(ck["state_dict"], dict):
        raise CheckpointError(f"{p} is not a microau checkpoint: 'state_dict' is a {type(ck['state_dict']).__name__}")
    return ck


def load_checkpoint(path, device: str = "cpu") -> LoadedModel:
    """Read a ``train-final`` checkpoint (:func:`read_checkpoint`) and rebuild its model.

    Raises :class:`CheckpointError` also for a config this version does not know, an AU list that
    does not match the config's data set, or a state dict that does not fit the model the
    checkpoint's config and AU set build."""
    from .aus import DATASET_AUS, check_aus
    from .config import Config
    from .model.micro_au_clip import MicroAUCLIP
    from .prep.pipeline import PrepSettings

    p = Path(path).expanduser()
    ck = read_checkpoint(p)
    try:
        cfg = Config.from_dict(dict(ck["config"]))
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{p}: its model config does not fit this microau version: {err}") from None
    aus = tuple(int(a) for a in ck["aus"])
    try:
        check_aus(aus, need_landmarks=cfg.uses_landmarks)
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
    check_state(p, model, state, cfg, aus)
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


def check_state(path: Path, model, state: dict, cfg, aus) -> None:
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
