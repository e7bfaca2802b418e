"""The pretraining corpus: (flow image, sentence) pairs drawn from the phantom's motion model.

Each pair is one synthetic clip: an identity (a phantom subject drawn with a *corpus seed*), a set
of active AUs, their intensities, a small head motion, and the sentence that describes the motion
with the method's prompt family (``microau.losses.global_sentence`` over ``microau.aus.AU_PROMPTS``).
The flow image is rendered from the known displacement field (``microau.pretrain.render``), never
with TV-L1, so that ten thousand pairs take seconds.

Disjointness from the evaluation sets. The evaluation phantoms are written with seed
``EVALUATION_SEED`` (0; ``microau.train.data.load_train_data``). The corpus draws its identities
with ``make_subject(like, seed, i)`` for seeds in ``CorpusSettings.identity_seeds``, which must not
contain it (checked), so every identity carries a shape warp, pose, colour and base-photo
assignment that no evaluation subject has. Clip-level draws (AU sets, intensities, head motion,
noise) come from ``SeedSequence([CORPUS_STREAM, seed, i])``: the phantom's own streams start
with ``[seed, like_code]`` with like codes 2 or 3, and ``CORPUS_STREAM`` is neither, so no corpus
clip can repeat an evaluation clip's draws. ``tests/test_pretrain.py`` checks both.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..aus import AU_PROMPTS
from ..losses import global_sentence

EVALUATION_SEED = 0  # the seed of the phantom sets the book evaluates on (load_train_data)
CORPUS_STREAM = 7_770_001  # first entropy word of every corpus clip stream (never a phantom like code)
CORPUS_VERSION = 1

# AUs the corpus may move (all that have a prompt and a motion field in the phantom).
UNIFORM_AUS = (1, 2, 4, 7, 12, 14, 15, 17)


@dataclass(frozen=True)
class CorpusSettings:
    """Everything that decides the corpus. All fields enter the checkpoint's key."""

    n_pairs: int = 10_240
    seed: int = 1  # clip-level stream (with CORPUS_STREAM)
    identity_seeds: tuple[int, ...] = (101, 102)  # phantom seeds of the corpus identities
    identities_per_seed: int = 20  # subjects per like and seed (the first k of each set)
    uniform_share: float = 0.5  # share of clips with AUs drawn uniformly, not from the label statistics
    max_uniform_aus: int = 3
    # flow rendering (see microau.pretrain.render)
    magnify_factor: float = 3.0
    flow_scale: float = 16.0
    crop_size: int = 224
    render_step: int = 2  # motion fields evaluated every k-th pixel, then resized (render.render_flow)
    box_expand: float = 1.35
    box_shift_up: float = 0.05
    # TV-L1 under-estimates small motion and adds smooth errors; both ranges cover the gains and
    # residuals that benchmarks/bench_pretrain.py --calibrate measures on prepared phantom clips
    tvl1_gain_range: tuple[float, float] = (0.35, 1.0)
    tvl1_noise_px_range: tuple[float, float] = (0.05, 0.4)  # rms of the smooth flow noise (crop px)
    tvl1_noise_sigma_px: float = 3.0  # spatial smoothness of that noise
    crop_jitter_px: float = 3.0  # face-box detection jitter (crop px)
    crop_scale_sd: float = 0.03

    def __post_init__(self):
        if EVALUATION_SEED in self.identity_seeds:
            raise ValueError(
                f"identity_seeds {self.identity_seeds} contain the evaluation phantom's seed "
                f"{EVALUATION_SEED}: the corpus would share identities with the sets it is evaluated "
                "on; choose other seeds")
        if self.n_pairs < 1 or self.identities_per_seed < 1:
            raise ValueError("n_pairs and identities_per_seed must be >= 1")
        if not 0.0 <= self.uniform_share <= 1.0:
            raise ValueError(f"uniform_share must be in [0, 1], got {self.uniform_share}")

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    def digest(self) -> str:
        blob = json.dumps({"v": CORPUS_VERSION, **self.to_json()}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Identity:
    """A corpus face: its 68 landmarks in the 224 x 224 crop the preparation would make."""

    like: str
    seed: int
    index: int
    landmarks: np.ndarray  # [68, 2] crop px
    crop_scale: float  # crop px per frame px
    face_scale: float  # the subject's face width / the phantom's reference width


@dataclass(frozen=True)
class CorpusClip:
    identity: int  # index into the identity list
    aus: tuple[int, ...]
    sides: dict
    amplitude_frame_px: dict  # AU -> peak displacement (frame px), as the phantom draws it
    head: tuple[float, float, float, float]  # shift x, shift y (frame px), rotation deg, scale - 1
    sentence: str  # the whole motion in one sentence
    au_sentences: tuple[str, ...]  # one sentence per described AU (the method's positive prompts)


def clip_rng(seed: int, i: int) -> np.random.Generator:
    """The stream of corpus clip ``i``."""
    return np.random.default_rng(np.random.SeedSequence([CORPUS_STREAM, int(seed), int(i)]))


def make_identities(settings: CorpusSettings) -> list[Identity]:
    """Corpus identities: phantom subjects of both likes under the corpus seeds, in crop coordinates."""
    from ..data.phantom import PhantomSettings, make_subject, subject_ids

    ps = PhantomSettings()
    out = []
    for seed in settings.identity_seeds:
        for like in ("casme2", "samm"):
            for i in range(min(settings.identities_per_seed, len(subject_ids(like)))):
                subj = make_subject(like, seed, i, ps)
                lm, s = landmarks_in_crop(subj.landmarks, subj.box, settings)
                out.append(Identity(like, seed, i, lm, s, subj.face_scale))
    return out


def landmarks_in_crop(landmarks: np.ndarray, box, settings: CorpusSettings) -> tuple[np.ndarray, float]:
    """Frame landmarks -> crop px, with the square crop ``microau.prep.pipeline.crop_for_box`` makes."""
    l, t, r, b = box
    side = settings.box_expand * max(r - l, b - t)
    cx, cy = (l + r) / 2.0, (t + b) / 2.0 - settings.box_shift_up * (b - t)
    s = settings.crop_size / side
    return (np.asarray(landmarks, np.float64) - [cx - side / 2, cy - side / 2]) * s, s


def _plan_pool(settings: CorpusSettings) -> list[tuple[tuple[int, ...], dict]]:
    """(AUs, sides) of every clip the phantom's label model plans under the corpus seeds."""
    from ..data.phantom import plan_labels

    pool = []
    for seed in settings.identity_seeds:
        for like in ("casme2", "samm"):
            for sub in plan_labels(like, seed):
                pool.extend((p.aus, dict(p.sides)) for p in sub)
    return pool


def draw_amplitudes(aus, rng: np.random.Generator, face_scale: float) -> dict[int, float]:
    """Per-AU peak displacement (frame px), drawn as the phantom's ``render_clip`` draws it."""
    from ..data.phantom import PhantomSettings

    st = PhantomSettings()
    gain = rng.uniform(*st.clip_gain_range)
    amps = {}
    for au in aus:
        if rng.random() < st.weak_prob:
            f = rng.uniform(*st.weak_factor_range)
        else:
            f = gain * np.exp(st.au_factor_sd * rng.standard_normal())
        amps[au] = float(min(st.max_amplitude_px, st.au_amplitude_px[au] * f * face_scale))
    return amps


NO_ACTION = "No facial action is visible"


def au_sentences(aus) -> tuple[str, ...]:
    """The positive prompt of each AU that has one, or the no-action sentence."""
    described = tuple(AU_PROMPTS[a][0] for a in sorted(aus) if a in AU_PROMPTS)
    return described or (NO_ACTION,)


def caption(aus) -> str:
    """The sentence of a clip: the positive prompts of its AUs that have one (Eq. 9-11's family)."""
    described = tuple(sorted(a for a in aus if a in AU_PROMPTS))
    return global_sentence(described, [1] * len(described))


def draw_clips(settings: CorpusSettings, identities: list[Identity]) -> Iterator[CorpusClip]:
    """The corpus clips, one stream per clip (clip i is the same whatever n_pairs is)."""
    from ..data.phantom import PhantomSettings

    st = PhantomSettings()
    pool = _plan_pool(settings)
    for i in range(settings.n_pairs):
        rng = clip_rng(settings.seed, i)
        ident = int(rng.integers(len(identities)))
        if rng.random() < settings.uniform_share:
            k = int(rng.integers(1, settings.max_uniform_aus + 1))
            aus = tuple(sorted(int(a) for a in rng.choice(UNIFORM_AUS, size=k, replace=False)))
            sides = {}
        else:
            aus, sides = pool[int(rng.integers(len(pool)))]
        amps = draw_amplitudes(aus, rng, identities[ident].face_scale)
        head = (float(rng.standard_normal() * st.head_shift_sd_px), float(rng.standard_normal() * st.head_shift_sd_px),
                float(rng.standard_normal() * st.head_rotation_sd_deg), float(rng.standard_normal() * st.head_scale_sd))
        yield CorpusClip(ident, aus, sides, amps, head, caption(aus), au_sentences(aus))


def render_rng(seed: int, i: int) -> np.random.Generator:
    """The stream of corpus clip ``i``'s rendering noise (separate from its clip draws)."""
    return np.random.default_rng(np.random.SeedSequence([CORPUS_STREAM, int(seed), int(i), 1]))
