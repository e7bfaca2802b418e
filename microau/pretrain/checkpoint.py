"""The pretrained backbone in the cache: keyed by its settings, written atomically, loaded through
open_clip's own ``pretrained=<path>`` code path.

``$MICROAU_CACHE/pretrained/<clip_model>-phantom-<key>.pt`` holds ``clip.state_dict()`` (open_clip's
format, the one a downloaded open_clip checkpoint has); ``<same>.json`` next to it records the
settings, the training report and the checkpoint's SHA-256. The key hashes the model name, every
corpus and training setting and the format version, so changing any of them pretrains again and
never reads a stale file.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

import torch

from ..config import PHANTOM_TAG  # noqa: F401  (the value of Config.pretrained naming our backbone)
from .contrastive import PretrainSettings, pretrain_clip
from .corpus import CORPUS_VERSION

log = logging.getLogger(__name__)

PHANTOM_LABEL = "phantom, phantom-pretrained backbone"
FORMAT_VERSION = 1


def cache_root() -> Path:
    return Path(os.environ.get("MICROAU_CACHE") or Path.home() / ".cache" / "microau")


# Settings added after checkpoints were cached, at the value that computes what those did: left
# out of the key at that value, so the cached backbones keep their keys.
KEY_NEUTRAL_SETTINGS = {"init_ulps": 0}


def checkpoint_key(clip_model: str, settings: PretrainSettings) -> str:
    values = {k: v for k, v in settings.to_json().items()
              if not (k in KEY_NEUTRAL_SETTINGS and v == KEY_NEUTRAL_SETTINGS[k])}
    blob = json.dumps({"format": FORMAT_VERSION, "corpus_version": CORPUS_VERSION,
                       "clip_model": clip_model, "settings": values}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def checkpoint_path(clip_model: str, settings: PretrainSettings | None = None) -> Path:
    settings = settings or PretrainSettings()
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in clip_model)
    return cache_root() / "pretrained" / f"{safe}-phantom-{checkpoint_key(clip_model, settings)}.pt"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def is_valid(path: Path) -> bool:
    """A checkpoint is used only with its record, and only if its bytes match the recorded hash."""
    record = path.with_suffix(".json")
    if not (path.is_file() and record.is_file()):
        return False
    try:
        sha = json.loads(record.read_text())["sha256"]
    except (OSError, ValueError, KeyError):
        return False
    return sha == _sha256(path)


def save_checkpoint(path: Path, state_dict: dict, record: dict) -> None:
    """Write the state_dict, check it reads back equal, then write its record (the record last:
    a checkpoint without one is never used)."""
    _atomic_write(path, lambda tmp: torch.save(state_dict, tmp))
    back = torch.load(path, map_location="cpu", weights_only=True)
    bad = [k for k, v in state_dict.items() if k not in back or not torch.equal(back[k], v)]
    if bad or set(back) != set(state_dict):
        path.unlink(missing_ok=True)
        raise OSError(f"the checkpoint written to {path} does not read back equal ({bad[:3]}...)")
    record = dict(record, sha256=_sha256(path))
    _atomic_write(path.with_suffix(".json"), lambda tmp: Path(tmp).write_text(json.dumps(record, indent=1)))


def ensure_backbone(clip_model: str, progress: bool = True, settings: PretrainSettings | None = None,
                    force: bool = False) -> Path:
    """The phantom-pretrained checkpoint of ``clip_model``: read from the cache, or pretrained now.

    Pass the returned path as ``pretrained`` to ``microau.model.backbone.load_clip`` (that is,
    ``open_clip.create_model(clip_model, pretrained=path)``).
    """
    settings = settings or PretrainSettings()
    path = checkpoint_path(clip_model, settings)
    if not force and is_valid(path):
        log.info("phantom-pretrained %s: reusing %s", clip_model, path)
        return path
    log.info("phantom-pretrained %s: pretraining on %d phantom pairs (written to %s)", clip_model,
             settings.corpus.n_pairs, path)
    state, report = pretrain_clip(clip_model, settings, progress=progress)
    save_checkpoint(path, state, {"clip_model": clip_model, "key": checkpoint_key(clip_model, settings),
                                  "settings": settings.to_json(), "report": report,
                                  "label": PHANTOM_LABEL})
    log.info("phantom-pretrained %s: %d pairs, %d steps, %.0f s", clip_model, report["pairs"],
             report["steps"], report["total_s"])
    return path


def ensure_backbones(clip_model: str, seeds, progress: bool = True, settings: PretrainSettings | None = None,
                     force: bool = False) -> list[Path]:
    """The phantom-pretrained checkpoints of ``clip_model`` under ``settings`` with each of
    ``seeds`` (``PretrainSettings.seed``): read from the cache, or pretrained now, the missing
    ones together in one stacked training (``microau.pretrain.batched``). A lone missing seed is
    pretrained by ``ensure_backbone``. Returns the paths in the order of ``seeds``."""
    import dataclasses

    from .batched import pretrain_clips

    settings = settings or PretrainSettings()
    each = [dataclasses.replace(settings, seed=int(s)) for s in seeds]
    paths = [checkpoint_path(clip_model, st) for st in each]
    missing = list({p: st for p, st in zip(paths, each) if force or not is_valid(p)}.items())
    if len(missing) == 1:
        ensure_backbone(clip_model, progress=progress, settings=missing[0][1], force=True)
    elif missing:
        log.info("phantom-pretrained %s: pretraining seeds %s together on %d phantom pairs", clip_model,
                 [st.seed for _, st in missing], settings.corpus.n_pairs)
        for (path, st), (state, report) in zip(missing, pretrain_clips(clip_model, [st for _, st in missing],
                                                                       progress=progress)):
            save_checkpoint(path, state, {"clip_model": clip_model, "key": checkpoint_key(clip_model, st),
                                          "settings": st.to_json(), "report": report, "label": PHANTOM_LABEL})
    return paths


def settings_for_draw(backbone_seed: int = 0) -> PretrainSettings:
    """The pretraining settings of backbone draw ``backbone_seed`` (the default settings with that
    seed for initialisation and batch order; the corpus is the same for every draw)."""
    import dataclasses

    return dataclasses.replace(PretrainSettings(), seed=int(backbone_seed))


def resolve_pretrained(clip_model: str, pretrained: str | None, progress: bool = True,
                       backbone_seed: int = 0) -> str | None:
    """``Config.pretrained`` as ``load_clip`` takes it: the tag ``PHANTOM_TAG`` becomes the cached
    checkpoint's path of draw ``backbone_seed`` (pretrained first if missing); any other value is
    returned unchanged."""
    if pretrained == PHANTOM_TAG:
        return str(ensure_backbone(clip_model, progress=progress, settings=settings_for_draw(backbone_seed)))
    return pretrained


def is_phantom_checkpoint(pretrained: str | None) -> bool:
    """True for the tag, or for a path to a checkpoint this module wrote (its record says so)."""
    if pretrained == PHANTOM_TAG:
        return True
    if not pretrained:
        return False
    record = Path(pretrained).with_suffix(".json")
    try:
        return json.loads(record.read_text()).get("label") == PHANTOM_LABEL
    except (OSError, ValueError):
        return False


def backbone_label(cfg) -> str:
    """How a result computed under ``cfg`` is labelled: it knows its backbone from
    ``cfg.pretrained`` (the tag, or a checkpoint path whose record this module wrote)."""
    from ..data.registry import source_of

    source = source_of(cfg.dataset)
    if is_phantom_checkpoint(cfg.pretrained):
        return PHANTOM_LABEL if source == "phantom" else f"{source}, phantom-pretrained backbone"
    if not cfg.pretrained:
        return f"{source}, random-init backbone"
    return f"{source}, {cfg.pretrained} backbone"


def pretrained_key(clip_model: str, pretrained: str | None, backbone_seed: int = 0) -> str | None:
    """What a run key should hold for ``Config.pretrained``: the tag plus the checkpoint's settings
    key of the draw (so that changing the pretraining settings renames the runs built on it), else
    the value."""
    if pretrained == PHANTOM_TAG:
        return f"{PHANTOM_TAG}:{checkpoint_key(clip_model, settings_for_draw(backbone_seed))}"
    return pretrained
