"""What a run was trained on, as a digest that becomes part of the run's directory name.

A run's directory is ``<config key>-<data digest>``: the configuration alone does not determine
a run, the data does too. The digest covers, per clip, its id, subject, onset and apex frame
indices, its labels for the data set's AUs and its 3-class emotion (scored by the label-free MER),
plus the AU list and the preparation settings (with the learned magnifier's checkpoint bytes).
It is computed from the coding sheet alone, without preparing anything, so asking where a run
lives stays cheap. A corrected AU cell therefore names a new run instead of reading back the old
one.

Our reading of "the data a run was trained on": the frame images' bytes are not part of the
digest (reading every frame would make every look-up as slow as a data check); the preparation
cache already keys its entries by those bytes. The alternative, hashing the prepared arrays,
would need the preparation to run before a finished run can be found.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import Config

if TYPE_CHECKING:  # pragma: no cover
    from ..data.types import Sample
    from ..prep.pipeline import PrepSettings

DIGEST_VERSION = 1
SHORT = 8  # hex characters of the digest in a run directory's name


def samples_digest(dataset: str, samples: list["Sample"], aus: tuple[int, ...],
                   settings: "PrepSettings") -> str:
    """Hex SHA-256 of the clips a run sees (ids, subjects, frame indices, labels, emotions), the AU
    list and the preparation settings."""
    prep = settings.to_json()
    if settings.magnify == "learned" and settings.learned_checkpoint:
        from ..prep.cache import file_digest

        ckpt = Path(settings.learned_checkpoint).expanduser()
        prep["learned_checkpoint_sha256"] = file_digest(ckpt) if ckpt.is_file() else None
    record = {
        "version": DIGEST_VERSION,
        "dataset": dataset,
        "aus": list(aus),
        "prep": prep,
        "clips": [[s.id, s.subject, int(s.onset_frame), int(s.apex_frame), s.labels(aus), s.emotion3]
                  for s in samples],
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()


def digest_for(cfg: Config, progress: bool = False) -> str:
    """The data digest of a run of ``cfg``, read from its data set's coding sheet (no preparation).

    For a phantom data set this writes the phantom on first use, as training would.
    """
    from ..data import registry

    if registry.is_composite(cfg.dataset):
        return composite_digest(cfg, registry.evaluated_aus(cfg.dataset), registry.prep_settings_for(cfg),
                                progress)
    return samples_digest(cfg.dataset, registry.samples_for(cfg, progress=progress),
                          registry.evaluated_aus(cfg.dataset), registry.prep_settings_for(cfg))


def composite_samples(cfg: Config, progress: bool = False) -> dict[str, list["Sample"]]:
    """Each part's samples of a composite's run (its own root and subject subset)."""
    from ..data import registry

    return {part_cfg.dataset: registry.samples_for(part_cfg, progress=progress)
            for part_cfg in registry.part_configs(cfg)}


def composite_digest(cfg: Config, aus: tuple[int, ...], settings: "PrepSettings", progress: bool = False) -> str:
    """A composite's digest: each part's :func:`samples_digest` on the composite's AUs, the parts'
    order and the folds asked for."""
    parts = {part: samples_digest(part, samples, aus, settings)
             for part, samples in composite_samples(cfg, progress).items()}
    record = {"version": DIGEST_VERSION, "dataset": cfg.dataset, "aus": list(aus), "holdout": cfg.holdout,
              "parts": parts}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def digest_of(data) -> str:
    """The digest a TrainData carries (set by ``load_train_data``), or, for data built in memory
    (tests, ``TrainData.synthetic``), a hash of its contents."""
    if data.digest:
        return data.digest
    h = hashlib.sha256()
    h.update(json.dumps([data.dataset, list(data.aus), data.ids, data.subjects, data.emotion3,
                         data.labels.cpu().tolist()]).encode())
    h.update(data.images.detach().cpu().contiguous().numpy().tobytes())
    h.update(data.landmarks.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()
