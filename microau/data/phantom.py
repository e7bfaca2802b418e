"""The phantom: a simulated micro-expression data set with known AU ground truth.

Nobody here may have the licensed CASME II / SAMM videos, so the project makes a stand-in that is
written in exactly their on-disk layouts (coding sheet + frame tree) and read by the same loader:

* ``like='casme2'``: ``CASME2-coding-phantom.xlsx`` and ``CASME2_RAW_selected/sub01/EP02_01f/img46.jpg``
* ``like='samm'``: ``SAMM_Micro_FACS_Codes_v2.xlsx`` (note rows and an 'AU Help' block above the
  header) and ``SAMM/006/006_1_2/006_05562.jpg``

Labels. The (emotion, selected-AU combination) multiset of every clip reproduces the real coding
sheets (``me_label_stats.json``): the joint emotion x combination table below was reconstructed
with an integer program so that its margins equal the real per-emotion AU counts and the real
combination counts exactly (``reconstruct_joint_table`` re-derives it; a test checks it). Clips
per subject are the real list, shuffled over subjects. Unselected AUs 6, 9 and 10 are added with
their real rates, and clips with no selected AU get one other unselected AU (drawn with the real
counts among those the phantom can draw); all are coded in the sheet and move the face, but lie
outside the model's AUs (nuisance).

Images. Two real face photos ship with installed packages (matplotlib's ``grace_hopper.jpg`` and
scikit-image's ``astronaut``). Each subject is one of them under its own identity transform
(scale, position, rotation, aspect, mirror, a smooth random shape warp, colour gains, gamma,
contrast, brightness, an illumination gradient). dlib's 68 landmarks found on the base photo,
carried through that transform (and checked: dlib must find the subject's face), anchor the AU
motion fields: sums of Gaussian displacement bumps, FACS-like (see ``AU_BUMPS``),
with per-clip random intensities (some AUs weak, near the noise floor). The onset frame is the
subject's face with a small per-clip pose jitter; the apex frame is the onset displaced by the
AU fields plus nuisance: small rigid head motion, illumination flicker, independent sensor noise,
JPEG compression. All knobs live in :class:`PhantomSettings`.

Determinism: every subject and clip draws from its own ``SeedSequence((seed, dataset, kind, i, j))``
so the first k subjects of a set are byte-identical whatever ``n_subjects`` is.

Everything this module produces is *phantom* data and must be labelled so.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

PHANTOM_VERSION = 2
LIKES = ("casme2", "samm")
_LIKE_CODE = {"casme2": 2, "samm": 3}
MARKER = ".phantom-complete.json"
TRUTH_FILE = "phantom_truth.jsonl"
STATS_PATH = Path(__file__).with_name("me_label_stats.json")
CASME2_SHEET = "CASME2-coding-phantom.xlsx"
CASME2_FRAMES = "CASME2_RAW_selected"
SAMM_SHEET = "SAMM_Micro_FACS_Codes_v2.xlsx"
SAMM_FRAMES = "SAMM"
SAMM_COLUMNS = (
    "Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame",
    "Duration", "Micro", "Action Units", "Estimated Emotion", "Objective Classes", "Notes",
)
CASME2_COLUMNS = (
    "Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units",
    "Estimated Emotion",
)
# The 29 SAMM subjects that have clips in the v2 sheet.
SAMM_SUBJECTS = (
    "006", "007", "009", "010", "011", "012", "013", "014", "015", "016", "017", "018", "019",
    "020", "021", "022", "023", "024", "025", "026", "028", "030", "031", "032", "033", "034",
    "035", "036", "037",
)
# SAMM's 'Objective Classes' column (I-VII), filled from the emotion as a plausible stand-in.
_SAMM_OBJECTIVE = {
    "happiness": 1, "surprise": 2, "anger": 3, "disgust": 4, "fear": 5, "contempt": 6,
    "sadness": 7, "other": 7,
}
NUISANCE_AUS = (6, 9, 10)
_NEGATIVE_LIKE = {"disgust", "others", "other", "anger", "contempt", "repression", "fear", "sadness"}

# Joint (emotion -> selected-AU combination -> clips), reconstructed from me_label_stats.json by
# ``reconstruct_joint_table`` (scipy HiGHS MILP, all margins met exactly). Embedded so the phantom
# does not depend on which optimum a solver version returns.
JOINT_TABLES: dict[str, dict[str, dict[str, int]]] = {
    "casme2": {
        "disgust": {"AU4": 24, "AU4+AU7": 25, "none": 4, "AU4+AU17": 2, "AU7": 4, "AU4+AU14": 1,
                    "AU2+AU15": 1, "AU1+AU4+AU7": 1, "AU2+AU4+AU7": 1},
        "fear": {"none": 2},
        "happiness": {"AU12": 24, "AU14": 3, "AU12+AU15": 2, "AU4+AU14": 1, "AU1+AU12": 1,
                      "AU12+AU17": 1},
        "others": {"AU4": 58, "AU4+AU7": 5, "AU12": 4, "AU14": 16, "none": 9, "AU17": 3,
                   "AU4+AU17": 1, "AU4+AU12": 2, "AU4+AU7+AU12": 1},
        "repression": {"AU17": 12, "AU15": 6, "AU12+AU15": 2, "AU4+AU17": 1, "AU15+AU17": 4,
                       "AU12+AU15+AU17": 1, "AU4+AU15+AU17": 1},
        "sadness": {"AU1": 3, "AU1+AU4": 1},
        "surprise": {"AU1+AU2": 17, "none": 1, "AU1": 4, "AU2": 3, "AU2+AU12": 1,
                     "AU1+AU2+AU7": 1, "AU2+AU14": 1},
    },
    "samm": {
        "anger": {"none": 4, "AU7": 32, "AU4": 13, "AU4+AU7": 8},
        "contempt": {"none": 10, "AU12": 2},
        "disgust": {"none": 7, "AU12": 1, "AU4": 1},
        "fear": {"none": 7, "AU7": 1},
        "happiness": {"AU12": 22, "AU7+AU12": 3, "AU2+AU12": 1},
        "other": {"none": 12, "AU2": 13, "AU4": 1},
        "sadness": {"none": 5, "AU12": 1},
        "surprise": {"none": 11, "AU2": 4},
    },
}


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

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["au_amplitude_px"] = {str(k): v for k, v in sorted(self.au_amplitude_px.items())}
        return d

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- label statistics


@functools.lru_cache(maxsize=None)
def label_stats() -> dict:
    with open(STATS_PATH) as fh:
        return json.load(fh)


def _norm_like(like: str) -> str:
    like = like.lower().removeprefix("phantom-")
    if like not in LIKES:
        raise ValueError(f"like must be one of {LIKES} (or 'phantom-<like>'), got {like!r}")
    return like


def _combo_aus(combo: str) -> tuple[int, ...]:
    return () if combo == "none" else tuple(int(a[2:]) for a in combo.split("+"))


def reconstruct_joint_table(like: str) -> dict[str, dict[str, int]]:
    """Solve for an emotion x combination count table whose row sums are the per-emotion clip
    counts, column sums the combination counts and per-emotion AU sums the per-emotion AU counts
    of ``me_label_stats.json`` (minimising the L1 violation, which is 0 for both data sets)."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    s = label_stats()[_norm_like(like)]
    emos, combos, aus = list(s["per_emotion"]), list(s["selected_au_combinations"]), s["selected_aus"]
    n_e, n_c, n_a = len(emos), len(combos), len(aus)
    n_x, n_s = n_e * n_c, 2 * n_e * n_a
    rows, rhs = [], []
    for e in range(n_e):
        r = np.zeros(n_x + n_s)
        r[e * n_c:(e + 1) * n_c] = 1
        rows.append(r), rhs.append(s["per_emotion"][emos[e]]["n"])
    for c in range(n_c):
        r = np.zeros(n_x + n_s)
        r[[e * n_c + c for e in range(n_e)]] = 1
        rows.append(r), rhs.append(s["selected_au_combinations"][combos[c]])
    k = 0
    for e in range(n_e):
        for a in range(n_a):
            r = np.zeros(n_x + n_s)
            for c in range(n_c):
                if aus[a] in combos[c].split("+"):
                    r[e * n_c + c] = 1
            r[n_x + 2 * k], r[n_x + 2 * k + 1] = -1, 1
            rows.append(r), rhs.append(s["per_emotion"][emos[e]]["au_counts"][aus[a]])
            k += 1
    res = milp(
        np.r_[np.zeros(n_x), np.ones(n_s)],
        constraints=LinearConstraint(np.array(rows), rhs, rhs),
        integrality=np.ones(n_x + n_s),
        bounds=Bounds(0, np.inf),
    )
    if res.status != 0:  # pragma: no cover
        raise RuntimeError(f"joint table reconstruction failed: {res.message}")
    x = np.rint(res.x[:n_x]).astype(int).reshape(n_e, n_c)
    return {emos[e]: {combos[c]: int(x[e, c]) for c in range(n_c) if x[e, c]} for e in range(n_e)}


def subject_ids(like: str) -> tuple[str, ...]:
    like = _norm_like(like)
    n = label_stats()[like]["n_subjects"]
    if like == "casme2":
        return tuple(f"sub{i:02d}" for i in range(1, n + 1))
    return SAMM_SUBJECTS[:n]


def _rng(seed: int, like: str, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), _LIKE_CODE[like], *keys]))


@dataclass(frozen=True)
class ClipPlan:
    """Labels and frame numbers of one phantom clip (before any image is drawn)."""

    like: str
    subject_index: int
    clip_index: int
    subject: str
    clip: str
    emotion: str  # lower case
    selected_aus: tuple[int, ...]
    nuisance_aus: tuple[int, ...]  # coded AUs outside the data set's selected AUs
    sides: dict[int, str]  # AU -> 'L' | 'R' for unilateral actions
    onset_frame: int
    apex_frame: int
    offset_frame: int
    inducement: int = 0  # SAMM only

    @property
    def aus(self) -> tuple[int, ...]:
        return tuple(sorted(self.selected_aus + self.nuisance_aus))


def plan_labels(like: str, seed: int = 0, settings: PhantomSettings | None = None) -> list[list[ClipPlan]]:
    """Per subject (in ``subject_ids`` order), the list of its clips' labels."""
    like = _norm_like(like)
    settings = settings or PhantomSettings()
    stats = label_stats()[like]
    joint = JOINT_TABLES[like]
    pairs = [(e, c) for e, row in joint.items() for c, n in row.items() for _ in range(n)]
    rng = _rng(seed, like, 0)
    if settings.label_mode == "exact":
        order = rng.permutation(len(pairs))
        pairs = [pairs[i] for i in order]
    elif settings.label_mode == "sample":
        idx = rng.integers(0, len(pairs), size=len(pairs))
        pairs = [pairs[i] for i in idx]
    else:
        raise ValueError(f"label_mode must be 'exact' or 'sample', got {settings.label_mode!r}")
    counts = rng.permutation(np.array(stats["clips_per_subject_sorted"]))
    # real rates of the nuisance AUs: AU6 among clips with AU12, AU9/AU10 among negative-ish ones
    all_counts = stats["au_counts_all"]
    n12 = max(1, sum(n for e, row in joint.items() for c, n in row.items() if 12 in _combo_aus(c)))
    n_neg = max(1, sum(v["n"] for e, v in stats["per_emotion"].items() if e in _NEGATIVE_LIKE))
    p6 = min(0.6, all_counts.get("AU6", 0) / n12) * settings.nuisance_rate_scale
    p9 = min(0.5, all_counts.get("AU9", 0) / n_neg) * settings.nuisance_rate_scale
    p10 = min(0.5, all_counts.get("AU10", 0) / n_neg) * settings.nuisance_rate_scale
    gap_median = stats["apex_minus_onset_frames"]["median"]
    selected = {int(a[2:]) for a in stats["selected_aus"]}
    pool = {int(k[2:]): v for k, v in all_counts.items() if int(k[2:]) not in selected and int(k[2:]) in AU_BUMPS}
    pool_aus = np.array(sorted(pool))
    pool_p = np.array([pool[a] for a in pool_aus], float) / max(1, sum(pool.values()))

    subjects = subject_ids(like)
    plans: list[list[ClipPlan]] = []
    start = 0
    for si, sid in enumerate(subjects):
        n = int(counts[si])
        srng = _rng(seed, like, 1, si)
        names = _clip_names(like, sid, n, srng)
        sub = []
        for ci in range(n):
            emotion, combo = pairs[start + ci]
            crng = _rng(seed, like, 2, si, ci)
            sel = _combo_aus(combo)
            nuis = []
            if 12 in sel and crng.random() < p6:
                nuis.append(6)
            neg = emotion in _NEGATIVE_LIKE
            if neg and crng.random() < p9:
                nuis.append(9)
            if neg and crng.random() < p10:
                nuis.append(10)
            if not sel and not nuis and pool:
                # the real sheets code some other AU in clips without a selected one
                nuis.append(int(crng.choice(pool_aus, p=pool_p)))
            sides = {}
            for au in sel:
                if au in (12, 14, 15) and crng.random() < settings.unilateral_prob:
                    sides[au] = "L" if crng.random() < 0.5 else "R"
            if like == "casme2":
                onset = int(crng.integers(1, 150))
            else:
                onset = int(crng.integers(100, 9000))
            gap = max(3, int(round(gap_median * np.exp(0.45 * crng.standard_normal()))))
            tail = max(3, int(round(gap_median * np.exp(0.45 * crng.standard_normal()))))
            name, inducement = names[ci]
            sub.append(
                ClipPlan(
                    like=like, subject_index=si, clip_index=ci, subject=sid, clip=name,
                    emotion=emotion, selected_aus=sel, nuisance_aus=tuple(nuis), sides=sides,
                    onset_frame=onset, apex_frame=onset + gap, offset_frame=onset + gap + tail,
                    inducement=inducement,
                )
            )
        plans.append(sub)
        start += n
    return plans


def _clip_names(like: str, sid: str, n: int, rng: np.random.Generator) -> list[tuple[str, int]]:
    names: list[tuple[str, int]] = []
    used: dict[int, int] = {}
    if like == "casme2":
        for _ in range(n):
            ep = int(rng.integers(1, 20))
            used[ep] = used.get(ep, 0) + 1
            suffix = "f" if rng.random() < 0.3 else ""
            names.append((f"EP{ep:02d}_{used[ep]:02d}{suffix}", 0))
        return names
    for _ in range(n):
        ind = int(rng.integers(1, 8))
        used[ind] = used.get(ind, 0) + 1
        names.append((f"{sid}_{ind}_{used[ind]}", ind))
    return names


def au_string(plan: ClipPlan, rng: np.random.Generator | None = None, letter_prob: float = 0.0,
              strengths: dict[int, float] | None = None) -> str:
    """The sheet's 'Action Units' cell: '4+7', 'L12', '6+12', SAMM-like '4B+7'."""
    parts = []
    for au in plan.aus:
        code = f"{plan.sides.get(au, '')}{au}"
        if rng is not None and letter_prob > 0 and rng.random() < letter_prob:
            q = (strengths or {}).get(au, 0.5)
            code += "ABCDE"[int(np.clip(q * 5, 0, 4))]
        parts.append(code)
    return "+".join(parts) if parts else "0"


# --------------------------------------------------------------------------- faces and motion


@dataclass(frozen=True)
class BaseFace:
    name: str
    image: np.ndarray  # uint8 RGB
    box: tuple[float, float, float, float]
    landmarks: np.ndarray  # [68, 2]


@functools.lru_cache(maxsize=None)
def _base_face_images() -> tuple[tuple[str, np.ndarray], ...]:
    import matplotlib.cbook as cbook
    import skimage.data
    from PIL import Image

    with cbook.get_sample_data("grace_hopper.jpg") as fh:
        gh = np.asarray(Image.open(fh).convert("RGB"))
    return (("grace_hopper", gh), ("astronaut", np.asarray(skimage.data.astronaut())))


def load_base_faces() -> list[BaseFace]:
    """The face photos the phantom (and the template landmark shape) start from."""
    return list(_base_faces())


@functools.lru_cache(maxsize=None)
def _base_faces() -> tuple[BaseFace, ...]:
    from microau.prep import faces

    out = []
    for name, img in _base_face_images():
        box = faces.detect_face(img)
        if box is None:  # pragma: no cover
            raise RuntimeError(f"dlib finds no face on the base photo {name}")
        out.append(BaseFace(name, img, box.as_tuple(), faces.predict_landmarks(img, box)))
    return tuple(out)


class FaceFrame:
    """Face-centred axes from 68 landmarks: ``ex`` points from the image-left eye to the
    image-right eye, ``ey`` is ``ex`` turned to point down the face; ``iod`` is the distance
    between the eye centres."""

    def __init__(self, lm: np.ndarray):
        self.lm = np.asarray(lm, dtype=np.float64)
        el, er = self.lm[36:42].mean(0), self.lm[42:48].mean(0)
        d = er - el
        self.iod = float(np.hypot(*d))
        self.ex = d / self.iod
        self.ey = np.array([-self.ex[1], self.ex[0]])
        self.mid = self.lm[27:31].mean(0)

    def side(self, p: np.ndarray) -> float:
        """-1 on the image-left half of the face, +1 on the right."""
        return -1.0 if float(np.dot(p - self.mid, self.ex)) < 0 else 1.0

    def vec(self, p: np.ndarray, out: float = 0.0, up: float = 0.0) -> np.ndarray:
        """Unit vector at ``p``: ``out`` away from the face midline, ``up`` towards the brow."""
        v = out * self.side(p) * self.ex - up * self.ey
        return v / max(1e-9, float(np.hypot(*v)))


# AU -> bumps: (landmark indices averaged for the centre, offset (out, down) in IOD, direction
# (out, up), weight, sigma in IOD). Mirrored bumps are listed for both sides. FACS-like motion:
AU_BUMPS: dict[int, list[tuple[tuple[int, ...], tuple[float, float], tuple[float, float], float, float]]] = {
    # AU1 inner brow raiser: inner brow ends up (slightly in)
    1: [((21,), (0, 0), (-0.15, 1), 1.0, 0.16), ((20,), (0, 0), (-0.1, 1), 0.6, 0.14),
        ((22,), (0, 0), (-0.15, 1), 1.0, 0.16), ((23,), (0, 0), (-0.1, 1), 0.6, 0.14)],
    # AU2 outer brow raiser: outer brows up (slightly out)
    2: [((18,), (0, 0), (0.15, 1), 1.0, 0.16), ((19,), (0, 0), (0.1, 1), 0.6, 0.14),
        ((25,), (0, 0), (0.15, 1), 1.0, 0.16), ((24,), (0, 0), (0.1, 1), 0.6, 0.14)],
    # AU4 brow lowerer: brows down and together
    4: [((20, 21), (0, 0), (-0.8, -0.6), 1.0, 0.18), ((19,), (0, 0), (-0.5, -0.85), 0.6, 0.15),
        ((22, 23), (0, 0), (-0.8, -0.6), 1.0, 0.18), ((24,), (0, 0), (-0.5, -0.85), 0.6, 0.15)],
    # AU7 lid tightener: lower lids up
    7: [((40, 41), (0, 0.03), (-0.2, 1), 1.0, 0.11), ((46, 47), (0, 0.03), (-0.2, 1), 1.0, 0.11)],
    # AU12 lip corner puller: corners up and out
    12: [((48,), (0, 0), (0.6, 0.8), 1.0, 0.17), ((54,), (0, 0), (0.6, 0.8), 1.0, 0.17)],
    # AU14 dimpler: corners pulled in, dimple just outside them
    14: [((48,), (0.08, 0), (-1, 0.1), 1.0, 0.13), ((54,), (0.08, 0), (-1, 0.1), 1.0, 0.13)],
    # AU15 lip corner depressor: corners down (slightly out)
    15: [((48,), (0, 0.04), (0.3, -0.95), 1.0, 0.15), ((54,), (0, 0.04), (0.3, -0.95), 1.0, 0.15),
         ((58, 59), (0, 0), (0, -1), 0.4, 0.12), ((55, 56), (0, 0), (0, -1), 0.4, 0.12)],
    # AU17 chin raiser: chin boss and lower lip pushed up
    17: [((8,), (0, -0.05), (0, 1), 0.8, 0.2), ((57,), (0, 0), (0, 1), 1.0, 0.16),
         ((8, 57), (0, 0), (0, 1), 1.0, 0.2)],
    # nuisance, unselected -- AU6 cheek raiser: cheeks up, pushes the lower lid a little (like AU7)
    6: [((40, 41), (0, 0.45), (0, 1), 1.0, 0.25), ((46, 47), (0, 0.45), (0, 1), 1.0, 0.25),
        ((40, 41), (0, 0.03), (0, 1), 0.35, 0.11), ((46, 47), (0, 0.03), (0, 1), 0.35, 0.11)],
    # AU9 nose wrinkler: nose wings up, inner brows pulled down a little (like AU4)
    9: [((31,), (0, 0), (-0.3, 1), 1.0, 0.14), ((35,), (0, 0), (-0.3, 1), 1.0, 0.14),
        ((28,), (0, 0), (0, 1), 0.5, 0.14), ((21,), (0, 0), (0, -1), 0.3, 0.14),
        ((22,), (0, 0), (0, -1), 0.3, 0.14)],
    # AU10 upper lip raiser
    10: [((50,), (0, 0), (0, 1), 1.0, 0.14), ((52,), (0, 0), (0, 1), 1.0, 0.14),
         ((49,), (0, 0), (0, 1), 0.5, 0.12), ((53,), (0, 0), (0, 1), 0.5, 0.12)],
    # other unselected AUs, drawn only in clips with no selected AU (as in the real sheets)
    5: [((37, 38), (0, 0), (0, 1), 1.0, 0.1), ((43, 44), (0, 0), (0, 1), 1.0, 0.1)],  # upper lid raiser
    43: [((37, 38), (0, 0), (0, -1), 1.0, 0.1), ((43, 44), (0, 0), (0, -1), 1.0, 0.1)],  # eyes closed
    16: [((57,), (0, 0), (0, -1), 1.0, 0.15), ((56,), (0, 0), (0, -1), 0.5, 0.12),
         ((58,), (0, 0), (0, -1), 0.5, 0.12)],  # lower lip depressor
    20: [((48,), (0, 0), (1, 0), 1.0, 0.15), ((54,), (0, 0), (1, 0), 1.0, 0.15)],  # lip stretcher
    24: [((51,), (0, 0), (0, -1), 0.5, 0.12), ((57,), (0, 0), (0, 1), 1.0, 0.12)],  # lip presser
    25: [((57,), (0, 0), (0, -1), 1.0, 0.15), ((51,), (0, 0), (0, 1), 0.4, 0.12)],  # lips part
    26: [((8,), (0, 0), (0, -1), 1.0, 0.35), ((57,), (0, 0), (0, -1), 0.6, 0.2)],  # jaw drop
}


def au_bumps(au: int, lm: np.ndarray, side: str | None = None) -> list[tuple[np.ndarray, np.ndarray, float, float]]:
    """Gaussian bumps (centre, unit direction, weight, sigma px) of one AU on the face ``lm``.
    ``side`` 'L' keeps the subject's left (image right) half only, 'R' the image-left half."""
    ff = FaceFrame(lm)
    out = []
    for idx, (o_out, o_down), (d_out, d_up), w, s in AU_BUMPS[au]:
        c = ff.lm[list(idx)].mean(0)
        sd = ff.side(c)
        if side == "L" and sd < 0 or side == "R" and sd > 0:
            continue
        c = c + ff.iod * (o_out * sd * ff.ex + o_down * ff.ey)
        out.append((c, ff.vec(c, d_out, d_up), float(w), float(s) * ff.iod))
    return out


def displacement(qx: np.ndarray, qy: np.ndarray, bumps, amplitude: float, sigma_scale: float = 1.0):
    """Forward displacement (dx, dy) at points (qx, qy) of a sum of Gaussian bumps whose
    weight-1 peak is ``amplitude`` px."""
    dx = np.zeros(qx.shape, np.float32)
    dy = np.zeros(qx.shape, np.float32)
    for c, v, w, s in bumps:
        s = s * sigma_scale
        r = 3.5 * s
        # evaluate only where the bump matters (bounding box in q)
        m = (np.abs(qx - c[0]) < r) & (np.abs(qy - c[1]) < r)
        if not m.any():
            continue
        g = np.exp(-((qx[m] - c[0]) ** 2 + (qy[m] - c[1]) ** 2) / (2 * s * s)) * (w * amplitude)
        dx[m] += (g * v[0]).astype(np.float32)
        dy[m] += (g * v[1]).astype(np.float32)
    return dx, dy


def _similarity(center, shift, rot_deg, scale) -> np.ndarray:
    """2x3 forward matrix: rotate/scale about ``center`` then shift."""
    a = np.deg2rad(rot_deg)
    c, s = np.cos(a) * scale, np.sin(a) * scale
    cx, cy = center
    return np.array(
        [[c, -s, cx - c * cx + s * cy + shift[0]], [s, c, cy - s * cx - c * cy + shift[1]]], np.float64
    )


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


def _invert(m: np.ndarray) -> np.ndarray:
    a = m[:, :2]
    ai = np.linalg.inv(a)
    return np.hstack([ai, (-ai @ m[:, 2])[:, None]])


def _sample(field_: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Bilinear samples of a 2-D array at (x, y) points."""
    import cv2

    p = np.asarray(pts, np.float32).reshape(-1, 1, 2)
    return cv2.remap(field_, p[..., 0], p[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE).reshape(-1).astype(np.float64)


@dataclass
class Subject:
    """A rendered identity: how frame pixels map into a base photo, and its colour transform."""

    index: int
    sid: str
    base: int
    map_x: np.ndarray  # frame -> base photo coordinates
    map_y: np.ndarray
    colour: dict
    landmarks: np.ndarray  # 68 landmarks (frame px): dlib's on the base photo, carried through the warp
    box: tuple[float, float, float, float]
    face_scale: float  # face width / reference width
    grayscale: bool


def _colour(img: np.ndarray, col: dict, gray: bool, extra_gain: float = 1.0,
            grad: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Apply a subject's colour transform (+ a per-frame gain and gradient); float 0..255."""
    x = np.clip(img, 0, 255) / 255.0
    x = x ** col["gamma"]
    x = (x - 0.5) * col["contrast"] + 0.5 + col["brightness"] / 255.0
    x = x * np.asarray(col["gains"], np.float32)
    h, w = x.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    xn, yn = xx / (w / 2.0) - 1.0, yy / (h / 2.0) - 1.0
    shade = (1 + (col["shade"][0] + grad[0]) * xn + (col["shade"][1] + grad[1]) * yn) * extra_gain
    x = x * shade[..., None]
    x = np.clip(x * 255.0, 0, 255).astype(np.float32)
    if gray:
        x = x @ np.array([0.299, 0.587, 0.114], np.float32)
    return x


def make_subject(like: str, seed: int, index: int, settings: PhantomSettings) -> Subject:
    """Draw and render subject ``index``; retried with a new draw if dlib misses the face."""
    import cv2

    from microau.prep import faces

    like = _norm_like(like)
    st = settings
    gray = (like == "samm") if st.grayscale is None else bool(st.grayscale)
    bases = _base_faces()
    sid = subject_ids(like)[index]
    w, h = st.frame_width, st.frame_height
    for attempt in range(8):
        rng = _rng(seed, like, 3, index, attempt)
        bi = (index + seed + attempt) % len(bases)
        base = bases[bi]
        bl, bt, br, bb = base.box
        bc = np.array([(bl + br) / 2, (bt + bb) / 2])
        face_w = rng.uniform(*st.face_width_px)
        s = face_w / (br - bl)
        asp = 1 + st.identity_aspect_sd * rng.standard_normal()
        flip = rng.random() < st.flip_prob
        rot = np.deg2rad(st.identity_rotation_sd_deg * rng.standard_normal())
        target = np.array([w / 2 + st.face_center_sd_px[0] * rng.standard_normal(),
                           h / 2 + 15 + st.face_center_sd_px[1] * rng.standard_normal()])
        lin = np.array([[np.cos(rot), -np.sin(rot)], [np.sin(rot), np.cos(rot)]]) @ np.diag(
            [s * asp * (-1 if flip else 1), s / asp]
        )
        fwd = np.hstack([lin, (target - lin @ bc)[:, None]])  # base -> frame
        inv = _invert(fwd)
        lm_frame = _apply(fwd, base.landmarks.astype(np.float64))
        if flip:
            lm_frame = lm_frame[faces.MIRROR_68]
        ff = FaceFrame(lm_frame)
        # smooth shape warp: random bumps on random landmarks (frame coordinates)
        xx, yy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        wx = np.zeros((h, w), np.float32)
        wy = np.zeros((h, w), np.float32)
        sig = st.identity_warp_sigma_iod * ff.iod
        for _ in range(st.identity_warp_bumps):
            c = lm_frame[rng.integers(0, 68)]
            v = rng.standard_normal(2) * st.identity_warp_px
            g = np.exp(-((xx - c[0]) ** 2 + (yy - c[1]) ** 2) / (2 * sig * sig)).astype(np.float32)
            wx += g * v[0]
            wy += g * v[1]
        px, py = xx - wx, yy - wy  # backward warp
        map_x = (inv[0, 0] * px + inv[0, 1] * py + inv[0, 2]).astype(np.float32)
        map_y = (inv[1, 0] * px + inv[1, 1] * py + inv[1, 2]).astype(np.float32)
        col = {
            "gains": (1 + st.colour_gain_sd * rng.standard_normal(3)).tolist(),
            "gamma": float(rng.uniform(*st.gamma_range)),
            "contrast": float(1 + st.contrast_sd * rng.standard_normal()),
            "brightness": float(st.brightness_sd * rng.standard_normal()),
            "shade": (st.shading_sd * rng.standard_normal(2)).tolist(),
        }
        img = cv2.remap(base.image.astype(np.float32), map_x, map_y, cv2.INTER_CUBIC,
                        borderMode=cv2.BORDER_REFLECT101)
        img = _colour(img, col, gray)
        u8 = np.clip(np.rint(img), 0, 255).astype(np.uint8)
        box = faces.detect_face(u8)
        if box is None or np.hypot(*(np.array(box.center) - target)) > 0.25 * face_w:
            log.debug("subject %s attempt %d: face not found, redrawing", sid, attempt)
            continue
        # the base photo's landmarks carried through the identity transform: p - W(p) = A(l)
        lm = lm_frame.copy()
        for _ in range(6):
            lm = lm_frame + np.stack([_sample(wx, lm), _sample(wy, lm)], axis=1)
        return Subject(index, sid, bi, map_x, map_y, col, lm, box.as_tuple(),
                       face_w / st.reference_face_px, gray)
    raise RuntimeError(f"phantom subject {sid}: no detectable face after 8 draws")  # pragma: no cover


def _head_mask(xx: np.ndarray, yy: np.ndarray, subject: Subject) -> np.ndarray:
    """1 on the head, 0 on the background, smooth in between (a super-Gaussian ellipse)."""
    l, t, r, b = subject.box
    fw = r - l
    cx, cy = (l + r) / 2, (t + b) / 2 - 0.15 * fw
    d2 = ((xx - cx) / (0.85 * fw)) ** 2 + ((yy - cy) / (1.05 * fw)) ** 2
    return np.exp(-(d2 ** 2)).astype(np.float32)


@dataclass
class RenderedClip:
    onset: np.ndarray  # uint8, (H, W, 3) RGB or (H, W) grey
    apex: np.ndarray
    truth: dict


def render_clip(subject: Subject, plan: ClipPlan, seed: int, settings: PhantomSettings) -> RenderedClip:
    """Draw the onset and apex frames of one clip."""
    import cv2

    st = settings
    like = plan.like
    rng = _rng(seed, like, 4, plan.subject_index, plan.clip_index)
    h, w = subject.map_x.shape
    center = np.array([(subject.box[0] + subject.box[2]) / 2, (subject.box[1] + subject.box[3]) / 2])
    fs = subject.face_scale
    # onset pose jitter J (subject -> frame) and head motion H (onset frame -> apex frame)
    jit = _similarity(center, rng.standard_normal(2) * st.onset_shift_sd_px * fs,
                      st.onset_rotation_sd_deg * rng.standard_normal(), 1 + st.onset_scale_sd * rng.standard_normal())
    head_shift = rng.standard_normal(2) * st.head_shift_sd_px
    head_rot = st.head_rotation_sd_deg * rng.standard_normal()
    head_scale = 1 + st.head_scale_sd * rng.standard_normal()
    head = _similarity(center, head_shift, head_rot, head_scale)
    # AU intensities
    gain = rng.uniform(*st.clip_gain_range)
    amps: dict[int, float] = {}
    weak: list[int] = []
    for au in plan.aus:
        if rng.random() < st.weak_prob:
            f = rng.uniform(*st.weak_factor_range)
            weak.append(au)
        else:
            f = gain * np.exp(st.au_factor_sd * rng.standard_normal())
        amps[au] = float(min(st.max_amplitude_px, st.au_amplitude_px[au] * f * fs))
    bumps = []
    for au in plan.aus:
        bumps.append((au_bumps(au, subject.landmarks, plan.sides.get(au)), amps[au]))
    onset_gain = 1 + st.onset_gain_sd * rng.standard_normal()
    flick = 1 + st.flicker_gain_sd * rng.standard_normal()
    flick_grad = tuple(st.flicker_gradient_sd * rng.standard_normal(2))
    noise_rng = _rng(seed, like, 5, plan.subject_index, plan.clip_index)

    xx, yy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    jinv = _invert(jit)
    hinv = _invert(head)

    def frame(qx, qy, extra_gain, grad):
        mx = cv2.remap(subject.map_x, qx, qy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        my = cv2.remap(subject.map_y, qx, qy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        img = cv2.remap(_base_faces()[subject.base].image.astype(np.float32), mx, my, cv2.INTER_CUBIC,
                        borderMode=cv2.BORDER_REFLECT101)
        img = _colour(img, subject.colour, subject.grayscale, extra_gain, grad)
        img = img + noise_rng.normal(0.0, st.noise_sd, img.shape).astype(np.float32)
        return np.clip(np.rint(img), 0, 255).astype(np.uint8)

    # onset: q = J^-1(p)
    qx = (jinv[0, 0] * xx + jinv[0, 1] * yy + jinv[0, 2]).astype(np.float32)
    qy = (jinv[1, 0] * xx + jinv[1, 1] * yy + jinv[1, 2]).astype(np.float32)
    onset = frame(qx, qy, onset_gain, (0.0, 0.0))
    # apex: q = J^-1(H^-1(p)), then the AU fields (defined on the subject face) pull from q - D(q)
    # the head moves, the background does not: the rigid motion fades out with a soft head mask
    hm = _head_mask(xx, yy, subject)
    px = xx + hm * (hinv[0, 0] * xx + hinv[0, 1] * yy + hinv[0, 2] - xx)
    py = yy + hm * (hinv[1, 0] * xx + hinv[1, 1] * yy + hinv[1, 2] - yy)
    qx = (jinv[0, 0] * px + jinv[0, 1] * py + jinv[0, 2]).astype(np.float32)
    qy = (jinv[1, 0] * px + jinv[1, 1] * py + jinv[1, 2]).astype(np.float32)
    dx = np.zeros_like(qx)
    dy = np.zeros_like(qy)
    for b, a in bumps:
        ddx, ddy = displacement(qx, qy, b, a, st.au_sigma_scale)
        dx += ddx
        dy += ddy
    apex = frame(qx - dx, qy - dy, onset_gain * flick, flick_grad)

    lm_onset = _apply(jit, subject.landmarks)
    truth = {
        "subject": plan.subject, "clip": plan.clip, "emotion": plan.emotion,
        "aus": list(plan.aus), "selected_aus": list(plan.selected_aus),
        "nuisance_aus": list(plan.nuisance_aus), "sides": {str(k): v for k, v in plan.sides.items()},
        "amplitude_px": {str(k): round(v, 4) for k, v in amps.items()}, "weak_aus": weak,
        "clip_gain": round(float(gain), 4),
        "head_shift_px": [round(float(v), 4) for v in head_shift], "head_rotation_deg": round(float(head_rot), 5),
        "head_scale": round(float(head_scale), 6), "flicker_gain": round(float(flick), 5),
        "face_box_subject": [round(float(v), 2) for v in subject.box],
        "landmarks_onset": np.round(lm_onset, 2).tolist(),
        "iod_px": round(FaceFrame(lm_onset).iod, 3), "base_face": _base_faces()[subject.base].name,
    }
    return RenderedClip(onset, apex, truth)


# --------------------------------------------------------------------------- writing the set


def _cache_root() -> Path:
    return Path(os.environ.get("MICROAU_CACHE") or Path.home() / ".cache" / "microau")


def default_phantom_root(like: str, seed: int = 0, n_subjects: int | None = None) -> Path:
    """``$MICROAU_CACHE/phantom/<like>-seed<seed>-<all|kSubj>`` (default cache ``~/.cache/microau``)."""
    like = _norm_like(like)
    tag = "all" if n_subjects is None else f"{int(n_subjects)}subj"
    return _cache_root() / "phantom" / f"{like}-seed{int(seed)}-{tag}"


def _marker_content(like, seed, n_subjects, settings) -> dict:
    return {
        "phantom_version": PHANTOM_VERSION, "like": like, "seed": int(seed),
        "n_subjects": None if n_subjects is None else int(n_subjects),
        "settings_digest": settings.digest(),
    }


def is_complete(out_dir: Path, like: str, seed: int = 0, n_subjects: int | None = None,
                settings: PhantomSettings | None = None) -> bool:
    marker = Path(out_dir) / MARKER
    if not marker.is_file():
        return False
    try:
        content = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return content == _marker_content(_norm_like(like), seed, n_subjects, settings or PhantomSettings())


def frame_path(root: Path, like: str, subject: str, clip: str, frame: int) -> Path:
    if like == "casme2":
        return Path(root) / CASME2_FRAMES / subject / clip / f"img{frame}.jpg"
    return Path(root) / SAMM_FRAMES / subject / clip / f"{subject}_{frame:05d}.jpg"


def _write_jpeg(path: Path, img: np.ndarray, quality: int) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    arr = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), arr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)]):
        raise OSError(f"could not write {path}")


def write_phantom(like: str, out_dir, seed: int = 0, n_subjects: int | None = None,
                  settings: PhantomSettings | None = None, progress: bool = True) -> Path:
    """Write a phantom set in the real layout of ``like`` ('casme2' or 'samm') under ``out_dir``.

    ``n_subjects`` keeps the first k subjects (identical to the same subjects of the full set).
    A completion marker makes a re-run with the same arguments return at once; with different
    arguments the set is rewritten. The set is written into a staging folder next to
    ``out_dir`` and moved in place when complete, so an interrupted run never leaves a set that
    looks complete, and two processes writing the same set do not mix their files.
    """
    from tqdm.auto import tqdm

    from ..prep.cache import make_staging_dir

    like = _norm_like(like)
    settings = settings or PhantomSettings()
    out = Path(out_dir)
    if is_complete(out, like, seed, n_subjects, settings):
        return out
    plans = plan_labels(like, seed, settings)
    if n_subjects is not None:
        if not 1 <= n_subjects <= len(plans):
            raise ValueError(f"n_subjects must be in 1..{len(plans)}, got {n_subjects}")
        plans = plans[:n_subjects]
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = make_staging_dir(out.parent, f".{out.name}.partial-")  # umask applies, unlike mkdtemp
    try:
        _write_set(stage, like, seed, n_subjects, settings, plans, tqdm, progress)
        _publish(stage, out, like, seed, n_subjects, settings)
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)
    return out


def _write_set(out: Path, like, seed, n_subjects, settings, plans, tqdm, progress) -> None:
    rows, truths = [], []
    n_clips = sum(len(p) for p in plans)
    bar = tqdm(total=n_clips, desc=f"phantom-{like}", unit="clip", disable=not progress)
    for sub_plans in plans:
        if not sub_plans:
            continue
        subj = make_subject(like, seed, sub_plans[0].subject_index, settings)
        for plan in sub_plans:
            clip = render_clip(subj, plan, seed, settings)
            _write_jpeg(frame_path(out, like, plan.subject, plan.clip, plan.onset_frame), clip.onset,
                        settings.jpeg_quality)
            _write_jpeg(frame_path(out, like, plan.subject, plan.clip, plan.apex_frame), clip.apex,
                        settings.jpeg_quality)
            srng = _rng(seed, like, 6, plan.subject_index, plan.clip_index)
            strength = {int(k): v / max(1e-6, settings.max_amplitude_px)
                        for k, v in clip.truth["amplitude_px"].items()}
            letter_p = settings.intensity_letter_prob if like == "samm" else 0.0
            aus = au_string(plan, srng, letter_p, strength)
            rows.append((plan, aus))
            truth = dict(clip.truth)
            truth.update(onset_frame=plan.onset_frame, apex_frame=plan.apex_frame, au_string=aus)
            truths.append(truth)
            bar.update(1)
    bar.close()
    if like == "casme2":
        _write_casme2_sheet(out / CASME2_SHEET, rows)
    else:
        _write_samm_sheet(out / SAMM_SHEET, rows)
    with open(out / TRUTH_FILE, "w") as fh:
        for t in truths:
            fh.write(json.dumps(t) + "\n")
    (out / "README.txt").write_text(
        f"PHANTOM data (simulated, not {'CASME II' if like == 'casme2' else 'SAMM'}), written by "
        f"microau.data.phantom (version {PHANTOM_VERSION}, seed {seed}).\n"
        "Faces: matplotlib's grace_hopper.jpg and scikit-image's astronaut, warped per subject.\n"
        f"Ground truth per clip (AU amplitudes, onset landmarks): {TRUTH_FILE}.\n"
    )
    content = _marker_content(like, seed, n_subjects, settings)
    # the full settings are kept for the record; the marker holds the fields compared on re-run
    (out / "phantom_settings.json").write_text(
        json.dumps(dict(content, settings=settings.to_json(), n_clips=len(rows)), indent=1))
    (out / MARKER).write_text(json.dumps(content, indent=1))


def _publish(stage: Path, out: Path, like, seed, n_subjects, settings) -> None:
    """Move a complete staged set to ``out``."""
    if is_complete(out, like, seed, n_subjects, settings):
        return  # another process finished the same set meanwhile
    if out.exists():
        entries = list(out.iterdir())
        if not entries or (out / "phantom_settings.json").exists() or (out / MARKER).exists():
            shutil.rmtree(out)  # empty, or an older phantom set: replace it whole
        else:
            # a folder with other content: move the set in, entry by entry, the marker last
            (out / MARKER).unlink(missing_ok=True)
            for e in sorted(stage.iterdir(), key=lambda p: p.name == MARKER):
                dest = out / e.name
                if dest.is_dir():
                    shutil.rmtree(dest)
                elif dest.exists():
                    dest.unlink()
                shutil.move(str(e), str(dest))
            return
    os.replace(stage, out)


def _sheet_au_value(s: str):
    """Pure-number AU cells are numbers in the real sheets ('4' -> 4)."""
    return int(s) if s.isdigit() else s


def _write_casme2_sheet(path: Path, rows) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    ws.append(list(CASME2_COLUMNS))
    for plan, aus in rows:
        ws.append([
            int(plan.subject[3:]), plan.clip, plan.onset_frame, plan.apex_frame, plan.offset_frame,
            _sheet_au_value(aus), plan.emotion,
        ])
    wb.save(path)


def _write_samm_sheet(path: Path, rows) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "FACS_Movement_Only"
    ws.append(["SAMM micro-movement FACS codes -- PHANTOM (simulated data written by microau, not SAMM)"])
    ws.append(["Frames are synthetic faces; see phantom_truth.jsonl for the ground truth."])
    ws.append([])
    ws.append(["AU Help"])
    ws.append(["A-E", "Intensity, A trace to E maximum (e.g. 4B)"])
    ws.append(["L / R", "Left / right unilateral action (e.g. R12)"])
    ws.append(["+", "Actions occurring together"])
    ws.append([])
    ws.append(list(SAMM_COLUMNS))
    for plan, aus in rows:
        ws.append([
            plan.subject, plan.clip, plan.inducement, plan.onset_frame, plan.apex_frame,
            plan.offset_frame, plan.offset_frame - plan.onset_frame + 1, "Micro - 1/2",
            _sheet_au_value(aus), plan.emotion.capitalize(), _SAMM_OBJECTIVE.get(plan.emotion, 7),
            "",
        ])
    wb.save(path)


def ensure_phantom(like: str, seed: int = 0, n_subjects: int | None = None, progress: bool = True) -> Path:
    """The default-settings phantom under the cache directory, written on first use."""
    return write_phantom(like, default_phantom_root(like, seed, n_subjects), seed=seed,
                         n_subjects=n_subjects, progress=progress)


def read_truth(root) -> list[dict]:
    """The per-clip ground truth a phantom root holds (``phantom_truth.jsonl``)."""
    with open(Path(root) / TRUTH_FILE) as fh:
        return [json.loads(line) for line in fh if line.strip()]
