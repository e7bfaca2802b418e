"""The phantom's labels: per clip an emotion and an AU combination drawn so that their joint
counts equal the real coding sheets' (``me_label_stats.json``), plus nuisance AUs, frame numbers
and clip names."""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .motion import AU_BUMPS
from .settings import PhantomSettings, norm_like, phantom_rng

STATS_PATH = Path(__file__).resolve().parent.parent / "me_label_stats.json"
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


@functools.lru_cache(maxsize=None)
def label_stats() -> dict:
    with open(STATS_PATH) as fh:
        return json.load(fh)


def _combo_aus(combo: str) -> tuple[int, ...]:
    return () if combo == "none" else tuple(int(a[2:]) for a in combo.split("+"))


def reconstruct_joint_table(like: str) -> dict[str, dict[str, int]]:
    """Solve for an emotion x combination count table whose row sums are the per-emotion clip
    counts, column sums the combination counts and per-emotion AU sums the per-emotion AU counts
    of ``me_label_stats.json`` (minimising the L1 violation, which is 0 for both data sets)."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    s = label_stats()[norm_like(like)]
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


def independent_labels(pairs: list[tuple[str, str]], aus: list[int], rng: np.random.Generator
                       ) -> list[tuple[str, str]]:
    """The (emotion, combination) of each clip with every AU's label column permuted across the
    clips on its own: each AU keeps exactly its count, co-occurrence is left to chance (the
    control for GDA). Emotions stay with their clips, so emotion and AUs are unrelated too."""
    table = np.array([[au in _combo_aus(c) for au in aus] for _, c in pairs], bool)
    for j in range(len(aus)):
        table[:, j] = table[rng.permutation(len(pairs)), j]
    combos = ["+".join(f"AU{au}" for au, on in zip(aus, row) if on) or "none" for row in table]
    return [(e, c) for (e, _), c in zip(pairs, combos)]


def subject_ids(like: str) -> tuple[str, ...]:
    like = norm_like(like)
    n = label_stats()[like]["n_subjects"]
    if like == "casme2":
        return tuple(f"sub{i:02d}" for i in range(1, n + 1))
    return SAMM_SUBJECTS[:n]


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
    like = norm_like(like)
    settings = settings or PhantomSettings()
    stats = label_stats()[like]
    joint = JOINT_TABLES[like]
    pairs = [(e, c) for e, row in joint.items() for c, n in row.items() for _ in range(n)]
    rng = phantom_rng(seed, like, 0)
    if settings.label_mode == "exact":
        order = rng.permutation(len(pairs))
        pairs = [pairs[i] for i in order]
    elif settings.label_mode == "sample":
        idx = rng.integers(0, len(pairs), size=len(pairs))
        pairs = [pairs[i] for i in idx]
    else:
        raise ValueError(f"label_mode must be 'exact' or 'sample', got {settings.label_mode!r}")
    if settings.label_structure == "independent":
        pairs = independent_labels(pairs, [int(a[2:]) for a in stats["selected_aus"]],
                                   phantom_rng(seed, like, 7))
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
        srng = phantom_rng(seed, like, 1, si)
        names = _clip_names(like, sid, n, srng)
        sub = []
        for ci in range(n):
            emotion, combo = pairs[start + ci]
            crng = phantom_rng(seed, like, 2, si, ci)
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
