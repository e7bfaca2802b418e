"""Train on every subject of a dataset and save a checkpoint for ``microau predict``.

The checkpoint is a plain dict of tensors, strings and numbers, loadable with
``torch.load(path, weights_only=True)``: the model's state dict, the resolved config, the AU
list, the preparation settings, and versions.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from ..config import Config
from ..model.micro_au_clip import MicroAUCLIP
from .data import TrainData

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1


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


def save_checkpoint(model: MicroAUCLIP, path: str | Path, prep_settings: dict, data_source: str,
                    extra: dict | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({
        "format": CHECKPOINT_FORMAT,
        "microau_version": __version__,
        "torch_version": str(torch.__version__),
        "config": {k: v for k, v in model.cfg.to_dict().items() if k != "notes"},
        "aus": list(model.aus),
        "prep_settings": dict(prep_settings),
        "data_source": data_source,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        **(extra or {}),
    }, path)
    log.info("checkpoint written to %s", path)
    return path
