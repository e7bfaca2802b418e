"""Model-ready tensors for a LOSO run: flow images, landmarks, AU labels, subjects; for a
composite of several data sets (``casme2+samm``), the parts' tensors side by side, with subjects
prefixed by their set and the folds the run's ``holdout`` asks for."""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field

import numpy as np
import torch

from ..config import Config
from ..data import registry
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
    # Which fold tests each clip ('' = none: always trained on); None: its subject (LOSO)
    groups: list[str] | None = None
    # Whether each clip's AUs are coded; None: all are. An uncoded clip (SMIC) is never trained on
    # and never scored for AUs, only for label-free emotion recognition.
    coded: list[bool] | None = None

    @property
    def source(self) -> str:
        """What the numbers are computed on: 'phantom', 'casme2', 'samm' or 'synthetic'."""
        from ..data.registry import source_of

        return source_of(self.dataset)

    @property
    def fold_subjects(self) -> list[str]:
        """One fold per subject (LOSO), or per group of ``groups``, in sorted order (fold k tests
        subject or group k)."""
        return sorted(set(self.groups if self.groups is not None else self.subjects) - {""})

    def subject_index(self, subject: str, test: bool) -> np.ndarray:
        """Rows the fold of ``subject`` (a subject, or a group) tests, or trains on: every other
        row whose AUs are coded."""
        s = np.asarray(self.groups if self.groups is not None else self.subjects)
        if test:
            return np.flatnonzero(s == subject)
        train = s != subject
        if self.coded is not None:
            train &= np.asarray(self.coded, bool)
        return np.flatnonzero(train)

    def scored(self) -> np.ndarray:
        """bool [M]: the clips a run scores for AUs (tested by a fold, AUs coded)."""
        tested = np.zeros(len(self.ids), bool)
        for f in self.fold_subjects:
            tested[self.subject_index(f, test=True)] = True
        return tested & (np.asarray(self.coded, bool) if self.coded is not None else True)

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
    the caller prepared the clips already. A composite is read part by part (:func:`load_composite`).
    Flow images are resized to the model's input side (``model_image_size``), landmarks with them.
    """
    from ..data.registry import prep_settings_for, samples_for
    from ..model.configs import model_image_size
    from .datakey import samples_digest

    size = model_image_size(cfg.clip_model)
    if registry.is_composite(cfg.dataset):
        return load_composite(cfg, workers, progress, size)
    if cfg.holdout != "subject":
        raise ValueError(f"holdout={cfg.holdout!r} needs several data sets (e.g. --dataset casme2+samm); "
                         f"{cfg.dataset} alone is evaluated leaving one subject out")
    samples = samples_for(cfg, progress=progress)
    settings = prep_settings_for(cfg)
    aus = registry.evaluated_aus(cfg.dataset)
    digest = samples_digest(cfg.dataset, samples, aus, settings)
    if prepared is not None and (prepared.settings != settings or
                                 len(prepared.samples) + len(prepared.dropped) != len(samples)):
        raise ValueError(f"the prepared clips given for {cfg.dataset} were made from other samples or "
                         "settings than this run's; prepare them with prepare_for(cfg)")
    return tensors_for(cfg.dataset, samples, aus, settings, digest, workers, progress, prepared, size)


def tensors_for(dataset: str, samples: list, aus: tuple[int, ...], settings, digest: str | None,
                workers: int | None = None, progress: bool = True, prepared=None,
                size: int | None = None) -> TrainData:
    """Prepare ``samples`` (cached; or take ``prepared``) and build the TrainData of ``dataset`` on
    ``aus``, the flow images resized to ``size`` pixels (the model's input side) and the landmarks
    scaled with them, so that Eq. 1 maps the same face points to the same tokens."""
    from ..model.backbone import flow_images_to_tensor
    from ..prep.pipeline import prepare_samples

    if prepared is None:
        prepared = prepare_samples(samples, settings, workers=workers, progress=progress)
    size = int(size or settings.size)
    if prepared.fallbacks:
        log.warning("%d clip(s) prepared with a fallback: %s", len(prepared.fallbacks),
                    ", ".join(f"{k} ({v})" for k, v in sorted(prepared.fallbacks.items())))
    if prepared.dropped:
        log.warning("%d clip(s) of %s left out (--on-damaged-frame drop): %s", len(prepared.dropped), dataset,
                    ", ".join(f"{k} ({v})" for k, v in sorted(prepared.dropped.items())))
    return TrainData(
        dataset=dataset,
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


def load_composite(cfg: Config, workers: int | None = None, progress: bool = True,
                   size: int | None = None) -> TrainData:
    """The TrainData of a composite (``casme2+samm``): each part read, prepared and labelled on the
    AUs every AU-coded part scores (``registry.evaluated_aus``), subjects and clip ids prefixed
    by their set (``casme2:sub01``), folds as ``cfg.holdout`` says: one per subject ('subject'),
    one per set ('dataset'), or one testing the named set after training on the others."""
    from .datakey import composite_digest, composite_samples

    aus = registry.evaluated_aus(cfg.dataset)
    settings = registry.prep_settings_for(cfg)
    pieces = []
    for part, samples in composite_samples(cfg, progress).items():
        piece = tensors_for(part, samples, aus, settings, None, workers, progress, size=size)
        pieces.append((part, piece))
    digest = composite_digest(cfg, aus, settings, progress)
    prefix = registry.composite_subject
    subjects = [prefix(part, s) for part, d in pieces for s in d.subjects]
    part_of = [part for part, d in pieces for _ in d.ids]
    return TrainData(
        dataset=cfg.dataset, aus=aus,
        ids=[f"{prefix(part, i)}" for part, d in pieces for i in d.ids],
        subjects=subjects,
        emotion3=[e for _, d in pieces for e in d.emotion3],
        emotion=[e for _, d in pieces for e in d.emotion],
        images=torch.cat([d.images for _, d in pieces]),
        landmarks=torch.cat([d.landmarks for _, d in pieces]),
        labels=torch.cat([d.labels for _, d in pieces]),
        fallbacks={prefix(part, k): v for part, d in pieces for k, v in d.fallbacks.items()},
        digest=digest,
        groups=fold_groups(cfg.holdout, cfg.dataset, subjects, part_of),
        coded=[registry.is_au_coded(p) for p in part_of],
    )


def fold_groups(holdout: str, dataset: str, subjects: list[str], part_of: list[str]) -> list[str]:
    """Each clip's fold: its (prefixed) subject, its set, or its set when that is the one held
    out ('' otherwise: always trained on)."""
    parts = registry.parts(dataset)
    if holdout == "subject":
        return list(subjects)
    if holdout == "dataset":
        return list(part_of)
    if holdout not in parts:
        raise ValueError(f"holdout={holdout!r} is not a part of {dataset} (parts: {', '.join(parts)}); "
                         "give 'subject', 'dataset' or one of the parts")
    return [p if p == holdout else "" for p in part_of]
