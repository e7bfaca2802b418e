"""Model-ready tensors for a LOSO run: flow images, landmarks, AU labels, subjects."""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field

import numpy as np
import torch

from ..aus import DATASET_AUS
from ..config import Config
from ..data.registry import data_key  # noqa: F401  (the one definition; imported from here by callers)

log = logging.getLogger(__name__)


@dataclass
class TrainData:
    dataset: str  # e.g. 'phantom-casme2'
    aus: tuple[int, ...]
    ids: list[str]
    subjects: list[str]
    emotion3: list[str | None]
    images: torch.Tensor  # [M, 3, S, S] CLIP-normalised flow images at the model's input side S
    landmarks: torch.Tensor  # [M, 68, 2] (x, y) in pixels of those images
    labels: torch.Tensor  # [M, N] 0/1
    fallbacks: dict[str, str] = field(default_factory=dict)
    emotion: list[str] = field(default_factory=list)
    digest: str | None = None  # what the data were made from (microau.train.datakey); None: in memory

    @property
    def source(self) -> str:
        """What the numbers are computed on: 'phantom', 'casme2', 'samm' or 'synthetic'."""
        from ..data.registry import source_of

        return source_of(self.dataset)

    @property
    def fold_subjects(self) -> list[str]:
        """One LOSO fold per subject, in sorted order (fold k tests subject k)."""
        return sorted(set(self.subjects))

    def subject_index(self, subject: str, test: bool) -> np.ndarray:
        s = np.asarray(self.subjects)
        return np.flatnonzero(s == subject) if test else np.flatnonzero(s != subject)

    def fingerprint(self) -> str:
        h = hashlib.sha1()
        h.update(json.dumps([self.ids, self.labels.tolist(), self.aus]).encode())
        h.update(self.images.numpy().tobytes())
        h.update(self.landmarks.numpy().tobytes())
        return h.hexdigest()[:16]

    def to(self, device: str) -> "TrainData":
        """Keep everything on the training device (no per-step host-to-device copies)."""
        self.images = self.images.to(device)
        self.landmarks = self.landmarks.to(device)
        self.labels = self.labels.to(device)
        return self

    @classmethod
    def synthetic(cls, n_subjects: int = 4, clips_per_subject: int = 5, aus=(1, 2, 4, 7, 12, 14, 15, 17),
                  image_size: int = 224, seed: int = 0) -> "TrainData":
        """Random images with AU-dependent bumps at the Table I regions; for tests of the trainer."""
        from ..aus import AU_LANDMARKS

        g = torch.Generator().manual_seed(seed)
        m = n_subjects * clips_per_subject
        base = torch.rand(68, 2, generator=g) * (image_size * 0.6) + image_size * 0.2
        landmarks = base + torch.randn(m, 68, 2, generator=g) * 2
        labels = (torch.rand(m, len(aus), generator=g) < 0.4).long()
        images = torch.randn(m, 3, image_size, image_size, generator=g) * 0.3
        for i in range(m):
            for n, au in enumerate(aus):
                if labels[i, n]:
                    for j in AU_LANDMARKS[au]:
                        x, y = landmarks[i, j].long().clamp(4, image_size - 5).tolist()
                        images[i, n % 3, y - 4:y + 4, x - 4:x + 4] += 1.0 + 0.2 * n
        subjects = [f"s{k:02d}" for k in range(n_subjects) for _ in range(clips_per_subject)]
        emotions = ["positive", "negative", "surprise", None]
        return cls(
            dataset="synthetic", aus=tuple(aus), ids=[f"{s}/c{i}" for i, s in enumerate(subjects)],
            subjects=subjects, emotion3=[emotions[i % 4] for i in range(m)], images=images,
            landmarks=landmarks, labels=labels,
        )


def prepare_for(cfg: Config, workers: int | None = None, progress: bool = True):
    """The prepared clips (a ``PreparedSet``) of a run of ``cfg``: its samples and preparation
    settings from ``microau.data.registry``, computed where not cached (``workers`` processes,
    default one per core)."""
    from ..data.registry import prep_settings_for, samples_for
    from ..prep.pipeline import prepare_samples

    return prepare_samples(samples_for(cfg, progress=progress), prep_settings_for(cfg), workers=workers,
                           progress=progress)


def load_train_data(cfg: Config, workers: int | None = None, progress: bool = True,
                    prepared=None) -> TrainData:
    """Load the dataset of ``cfg`` (phantom by default), prepare it (cached) and build tensors.

    The samples and preparation settings come from ``microau.data.registry`` (``samples_for``,
    ``prep_settings_for``); the result carries their digest (``microau.train.datakey``), which
    names the run directory. ``prepared``: the result of :func:`prepare_for` for ``cfg``, when
    the caller prepared the clips already.
    """
    from ..data.registry import prep_settings_for, samples_for
    from ..model.backbone import flow_images_to_tensor
    from ..model.configs import model_image_size
    from .datakey import samples_digest

    samples = samples_for(cfg, progress=progress)
    settings = prep_settings_for(cfg)
    aus = DATASET_AUS[cfg.base_dataset]
    digest = samples_digest(cfg.dataset, samples, aus, settings)
    if prepared is None:
        prepared = prepare_for(cfg, workers=workers, progress=progress)
    elif prepared.settings != settings or len(prepared.samples) + len(prepared.dropped) != len(samples):
        raise ValueError(f"the prepared clips given for {cfg.dataset} were made from other samples or "
                         "settings than this run's; prepare them with prepare_for(cfg)")
    # the model's input side: flow images are resized to it (bilinear) and landmarks scaled with
    # them, so that Eq. 1 maps the same face points to the same tokens
    size = model_image_size(cfg.clip_model)
    return TrainData(
        dataset=cfg.dataset,
        aus=aus,
        ids=[s.id for s in prepared.samples],
        subjects=[s.subject for s in prepared.samples],
        emotion3=[s.emotion3 for s in prepared.samples],
        emotion=[s.emotion for s in prepared.samples],
        images=flow_images_to_tensor(prepared.flow_images, size),
        landmarks=torch.as_tensor(prepared.landmarks, dtype=torch.float32) * (size / settings.size),
        labels=torch.tensor([s.labels(aus) for s in prepared.samples], dtype=torch.long),
        fallbacks=dict(prepared.fallbacks),
        digest=digest,
    )
