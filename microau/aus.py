"""Facial Action Units as data: the AUs each dataset uses, their text prompts, the landmark
groups of Table I, and the emotion maps used for label-free MER (Eq. 13).

Everything here is plain data so that ablations and new datasets are configuration.
"""
from __future__ import annotations

# AUs selected in Sec. IV-A ("more than 14 samples"), in the order the model uses.
DATASET_AUS: dict[str, tuple[int, ...]] = {
    "casme2": (1, 2, 4, 7, 12, 14, 15, 17),
    "samm": (2, 4, 7, 12),
}

# The AUs compared across data sets (the list of tvaranka/meb's cross-data-set benchmark): coded
# often enough in CASME, CASME II, SAMM, 4DME, MMEW and CAS(ME)^3 to be scored on each
# (microau.data.harmonise shows which sets code which).
CROSS_SET_AUS: tuple[int, ...] = (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17)

# Positive / negative descriptions, written from the FACS action descriptions.
# (positive, negative) for every AU the two datasets code often enough to matter.
AU_PROMPTS: dict[int, tuple[str, str]] = {
    1: ("The inner eyebrows are raising", "The inner eyebrows are not raising"),
    2: ("The outer eyebrows are raising", "The outer eyebrows are not raising"),
    4: ("The eyebrows are lowering", "The eyebrows are not lowering"),
    5: ("The upper eyelids are raising", "The upper eyelids are not raising"),
    6: ("The cheeks are raising", "The cheeks are not raising"),
    7: ("The eyelids are tightening", "The eyelids are not tightening"),
    9: ("The nose is wrinkling", "The nose is not wrinkling"),
    10: ("The upper lip is raising", "The upper lip is not raising"),
    12: ("The lip corners are pulling up", "The lip corners are not pulling up"),
    14: ("The lip corners are tightening inward", "The lip corners are not tightening inward"),
    15: ("The lip corners are pulling down", "The lip corners are not pulling down"),
    17: ("The chin is raising", "The chin is not raising"),
    20: ("The lips are stretching", "The lips are not stretching"),
    24: ("The lips are pressing together", "The lips are not pressing together"),
    25: ("The lips are parting", "The lips are not parting"),
    26: ("The jaw is dropping", "The jaw is not dropping"),
}

# Table I: AU -> 0-based dlib 68-point landmark indices.
AU_LANDMARKS: dict[int, tuple[int, ...]] = {
    1: (19, 20, 21, 22, 23, 24),
    2: (19, 20, 21, 22, 23, 24),
    4: (19, 20, 21, 22, 23, 24),
    7: (38, 41, 44, 47),
    12: (48, 54),
    14: (55, 59, 60, 64),
    15: (48, 54),
    17: (7, 8, 9, 57),
}

# Three-class emotion map used for MER (Sec. IV-A). Labels outside it are excluded from MER only.
EMOTION3: dict[str, str] = {
    "happiness": "positive",
    "disgust": "negative",
    "repression": "negative",
    "anger": "negative",
    "contempt": "negative",
    "fear": "negative",
    "sadness": "negative",
    "surprise": "surprise",
    # SMIC codes the three classes themselves; other sets spell two emotions shorter (as read
    # from public sources). No CASME II or SAMM label takes these names.
    "positive": "positive",
    "negative": "negative",
    "happy": "positive",
    "sad": "negative",
}
EMOTION3_CLASSES: tuple[str, ...] = ("negative", "positive", "surprise")

# Eq. 13: the AU set that describes each 3-class emotion, restricted to a dataset's AUs at use.
EMOTION_AUS: dict[str, tuple[int, ...]] = {
    "positive": (12,),
    "surprise": (1, 2),
    "negative": (4, 7, 14, 15, 17),
}


PROMPT_MODES = ("paper", "permuted")


def prompt_source(aus: tuple[int, ...], mode: str = "paper") -> dict[int, int]:
    """AU -> the AU whose prompts it is given. 'paper': its own. 'permuted' (the negative control
    of the text side, issue 22): AU ``aus[k]`` gets the prompts of ``aus[k + 1]`` (cyclically), so
    no AU's sentence names the motion it stands for, while the set of sentences is unchanged."""
    if mode not in PROMPT_MODES:
        raise ValueError(f"prompts must be one of {PROMPT_MODES}, got {mode!r}")
    aus = tuple(aus)
    if mode == "paper" or len(aus) < 2:
        return {a: a for a in aus}
    return {a: aus[(k + 1) % len(aus)] for k, a in enumerate(aus)}


def au_prompt(au: int, positive: bool, source: dict[int, int] | None = None) -> str:
    """The positive or negative prompt used for ``au`` (through ``source``, see :func:`prompt_source`)."""
    a = source.get(au, au) if source else au
    return AU_PROMPTS[a][0 if positive else 1]


def emotion3(emotion: str | None) -> str | None:
    """Map a coding-sheet emotion (any case) to positive/negative/surprise, or None."""
    if emotion is None:
        return None
    return EMOTION3.get(str(emotion).strip().lower())


def au_name(au: int) -> str:
    return f"AU{au}"


def check_aus(aus: tuple[int, ...], need_landmarks: bool = True) -> None:
    """Raise a clear error if an AU has no prompt or no Table I landmark group."""
    missing_prompt = [a for a in aus if a not in AU_PROMPTS]
    if missing_prompt:
        raise ValueError(
            f"No text prompt for AU(s) {missing_prompt}; add them to microau.aus.AU_PROMPTS."
        )
    if need_landmarks:
        missing = [a for a in aus if a not in AU_LANDMARKS]
        if missing:
            raise ValueError(
                f"No landmark group (Table I) for AU(s) {missing}; add them to "
                "microau.aus.AU_LANDMARKS or choose AUs from "
                f"{sorted(AU_LANDMARKS)}."
            )
