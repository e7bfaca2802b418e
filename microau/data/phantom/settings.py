"""The phantom's knobs (:class:`PhantomSettings`), its data-set names and its random streams."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

import numpy as np

PHANTOM_VERSION = 2
LIKES = ("casme2", "samm")
LABEL_STRUCTURES = ("real", "independent")  # AU co-occurrence as in the sheets | none (same marginals)
MOTION_ANCHORS = ("table1", "offsite")  # AU motion on its landmarks | moved off Table I's (motion.py)
_LIKE_CODE = {"casme2": 2, "samm": 3}


def norm_like(like: str) -> str:
    """The real data set a phantom imitates: 'casme2' or 'samm' (a ValueError otherwise)."""
    if like not in LIKES:
        raise ValueError(f"like must be one of {LIKES}, got {like!r} (for a data set name, "
                         "microau.data.registry.base_dataset gives it)")
    return like


def phantom_rng(seed: int, like: str, *keys: int) -> np.random.Generator:
    """The random stream of one part of the phantom: ``SeedSequence((seed, like, *keys))``."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), _LIKE_CODE[like], *keys]))


def _default_amplitudes() -> dict[int, float]:
    amps = {1: 1.0, 2: 1.0, 4: 1.1, 7: 0.8, 12: 1.1, 14: 0.9, 15: 0.9, 17: 1.0, 6: 0.8, 9: 0.7, 10: 0.8}
    amps.update({au: 0.8 for au in (5, 16, 20, 24, 25, 26, 43)})
    return amps


@dataclass(frozen=True)
class PhantomSettings:
    """Every signal and nuisance knob of the phantom. Lengths are frame pixels for a face whose
    dlib box is ``reference_face_px`` wide (they scale with each subject's face size).
    """

    # --- frames
    frame_width: int = 640
    frame_height: int = 480
    jpeg_quality: int = 95
    grayscale: bool | None = None  # None: SAMM-like sets grey (as SAMM's camera), CASME II colour
    # --- subject identity
    face_width_px: tuple[float, float] = (190.0, 240.0)  # dlib box width range over subjects
    reference_face_px: float = 215.0
    face_center_sd_px: tuple[float, float] = (25.0, 15.0)
    identity_rotation_sd_deg: float = 3.0
    identity_aspect_sd: float = 0.04  # relative x/y stretch
    identity_warp_px: float = 4.0  # sd of each smooth shape-warp bump (face geometry)
    identity_warp_bumps: int = 10
    identity_warp_sigma_iod: float = 0.45
    flip_prob: float = 0.5
    colour_gain_sd: float = 0.07
    brightness_sd: float = 10.0  # grey levels
    contrast_sd: float = 0.10
    gamma_range: tuple[float, float] = (0.8, 1.25)
    shading_sd: float = 0.15  # linear illumination gradient over the frame (relative)
    # --- per-clip onset pose (the face is not at the same place in every clip)
    onset_shift_sd_px: float = 3.0
    onset_rotation_sd_deg: float = 1.0
    onset_scale_sd: float = 0.01
    onset_gain_sd: float = 0.03
    # --- AU signal (peak displacement of an AU at intensity 1)
    au_amplitude_px: dict[int, float] = field(default_factory=_default_amplitudes)
    au_sigma_scale: float = 1.0  # multiplies every bump's width
    clip_gain_range: tuple[float, float] = (0.35, 1.0)  # per-clip expression strength
    au_factor_sd: float = 0.35  # per-AU log-normal spread around the clip strength
    weak_prob: float = 0.2  # an active AU is weak (near or below the noise floor) ...
    weak_factor_range: tuple[float, float] = (0.08, 0.3)  # ... with this factor instead
    max_amplitude_px: float = 2.0
    unilateral_prob: float = 0.08  # AU12/14/15 on one side only (coded 'L12' / 'R12')
    nuisance_rate_scale: float = 1.0  # multiplies the real rates of AU6/9/10
    # --- nuisance between onset and apex
    head_shift_sd_px: float = 0.1
    head_rotation_sd_deg: float = 0.03
    head_scale_sd: float = 0.0005
    flicker_gain_sd: float = 0.005
    flicker_gradient_sd: float = 0.005
    noise_sd: float = 2.0  # sensor noise, grey levels, independent per frame
    # --- labels
    label_mode: str = "exact"  # 'exact': the real multiset, shuffled; 'sample': iid draws from it
    intensity_letter_prob: float = 0.15  # SAMM-like only: '4B'-style intensity letters
    # --- testbed controls (issue 22): structure a mechanism relies on, removed
    label_structure: str = "real"  # 'independent': each selected AU's labels permuted on their own
    motion_anchor: str = "table1"  # 'offsite': every AU's bumps moved off the Table I landmarks

    def __post_init__(self):
        if self.label_structure not in LABEL_STRUCTURES:
            raise ValueError(f"label_structure must be one of {LABEL_STRUCTURES}, got {self.label_structure!r}")
        if self.motion_anchor not in MOTION_ANCHORS:
            raise ValueError(f"motion_anchor must be one of {MOTION_ANCHORS}, got {self.motion_anchor!r}")

    def to_json(self) -> dict:
        """The settings as JSON. Fields added after version 2 appear only when they differ from
        their defaults, so a default phantom keeps its digest, marker, files and run keys."""
        d = dataclasses.asdict(self)
        d["au_amplitude_px"] = {str(k): v for k, v in sorted(self.au_amplitude_px.items())}
        for name, default in _LATER_FIELDS.items():
            if d[name] == default:
                del d[name]
        return d

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()[:16]


# fields added after PHANTOM_VERSION 2, with the value that leaves the phantom as it was
_LATER_FIELDS = {"label_structure": "real", "motion_anchor": "table1"}
