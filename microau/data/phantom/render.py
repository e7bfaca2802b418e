"""Phantom identities and frames: each subject is a base face photo under its own shape, pose and
colour transform; a clip's apex is its onset moved by the AU fields, plus nuisance."""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np

from ..base_faces import base_face_images
from .labels import ClipPlan, subject_ids
from .motion import (
    CoordinateBounds,
    FaceFrame,
    apply_affine,
    au_bumps,
    displacement,
    invert_affine,
    sample_at,
    similarity,
)
from .settings import PhantomSettings, norm_like, phantom_rng

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BaseFace:
    """A base photo with dlib's face box and 68 landmarks on it."""

    name: str
    image: np.ndarray  # uint8 RGB
    box: tuple[float, float, float, float]
    landmarks: np.ndarray  # [68, 2]


def load_base_faces() -> list[BaseFace]:
    """The face photos the phantom starts from, with dlib's face box and 68 landmarks."""
    return list(base_faces())


@functools.lru_cache(maxsize=None)
def base_faces() -> tuple[BaseFace, ...]:
    from ...prep import faces

    out = []
    for name, img in base_face_images():
        box = faces.detect_face(img)
        if box is None:  # pragma: no cover
            raise RuntimeError(f"dlib finds no face on the base photo {name}")
        out.append(BaseFace(name, img, box.as_tuple(), faces.predict_landmarks(img, box)))
    return tuple(out)


@functools.lru_cache(maxsize=None)
def base_float(index: int) -> np.ndarray:
    """Base photo ``index`` as float32 (converted once per process; read-only)."""
    img = base_faces()[index].image.astype(np.float32)
    img.flags.writeable = False
    return img


@functools.lru_cache(maxsize=4)
def pixel_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """float32 (x, y) of every pixel of an h x w frame (read-only, shared by every clip)."""
    xx, yy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    xx.flags.writeable = yy.flags.writeable = False
    return xx, yy


@functools.lru_cache(maxsize=4)
def _unit_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """float32 pixel coordinates scaled to -1..1 (the shading gradient's axes; read-only)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    xn, yn = xx / (w / 2.0) - 1.0, yy / (h / 2.0) - 1.0
    xn.flags.writeable = yn.flags.writeable = False
    return xn, yn


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


def colour_transform(img: np.ndarray, col: dict, gray: bool, extra_gain: float = 1.0,
            grad: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Apply a subject's colour transform (+ a per-frame gain and gradient); float 0..255.

    In place where the dtype stays float32 (the same operations, in the same order and dtypes,
    as :func:`colour_transform_plain`; the result is bit-identical)."""
    x = np.clip(img, 0, 255)
    x = np.divide(x, 255.0, out=x) if x.dtype == np.float32 else x / 255.0
    x **= col["gamma"]
    x -= 0.5
    x *= col["contrast"]
    x += 0.5
    x += col["brightness"] / 255.0
    x *= np.asarray(col["gains"], np.float32)
    xn, yn = _unit_grid(*x.shape[:2])
    shade = (1 + (col["shade"][0] + grad[0]) * xn + (col["shade"][1] + grad[1]) * yn) * extra_gain
    if shade.dtype == x.dtype:
        x *= shade[..., None]
    else:  # a float64 gradient (apex frames) makes the product float64, as in the plain code
        x = x * shade[..., None]
    x *= 255.0
    np.clip(x, 0, 255, out=x)
    x = x.astype(np.float32, copy=False)
    if gray:
        x = x @ np.array([0.299, 0.587, 0.114], np.float32)
    return x


def colour_transform_plain(img: np.ndarray, col: dict, gray: bool, extra_gain: float = 1.0,
                           grad: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """:func:`colour_transform` written out without reuse or in-place steps (the reference)."""
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

    from ...prep import faces

    like = norm_like(like)
    st = settings
    gray = (like == "samm") if st.grayscale is None else bool(st.grayscale)
    bases = base_faces()
    sid = subject_ids(like)[index]
    w, h = st.frame_width, st.frame_height
    for attempt in range(8):
        rng = phantom_rng(seed, like, 3, index, attempt)
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
        inv = invert_affine(fwd)
        lm_frame = apply_affine(fwd, base.landmarks.astype(np.float64))
        if flip:
            lm_frame = lm_frame[faces.MIRROR_68]
        ff = FaceFrame(lm_frame)
        # smooth shape warp: random bumps on random landmarks (frame coordinates)
        xx, yy = pixel_grid(h, w)
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
        img = cv2.remap(base_float(bi), map_x, map_y, cv2.INTER_CUBIC,
                        borderMode=cv2.BORDER_REFLECT101)
        img = colour_transform(img, col, gray)
        u8 = np.clip(np.rint(img), 0, 255).astype(np.uint8)
        box = faces.detect_face(u8)
        if box is None or np.hypot(*(np.array(box.center) - target)) > 0.25 * face_w:
            log.debug("subject %s attempt %d: face not found, redrawing", sid, attempt)
            continue
        # the base photo's landmarks carried through the identity transform: p - W(p) = A(l)
        lm = lm_frame.copy()
        for _ in range(6):
            lm = lm_frame + np.stack([sample_at(wx, lm), sample_at(wy, lm)], axis=1)
        return Subject(index, sid, bi, map_x, map_y, col, lm, box.as_tuple(),
                       face_w / st.reference_face_px, gray)
    raise RuntimeError(f"phantom subject {sid}: no detectable face after 8 draws")  # pragma: no cover


def head_mask(xx: np.ndarray, yy: np.ndarray, subject: Subject) -> np.ndarray:
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
    rng = phantom_rng(seed, like, 4, plan.subject_index, plan.clip_index)
    h, w = subject.map_x.shape
    center = np.array([(subject.box[0] + subject.box[2]) / 2, (subject.box[1] + subject.box[3]) / 2])
    fs = subject.face_scale
    # onset pose jitter J (subject -> frame) and head motion H (onset frame -> apex frame)
    jit = similarity(center, rng.standard_normal(2) * st.onset_shift_sd_px * fs,
                      st.onset_rotation_sd_deg * rng.standard_normal(), 1 + st.onset_scale_sd * rng.standard_normal())
    head_shift = rng.standard_normal(2) * st.head_shift_sd_px
    head_rot = st.head_rotation_sd_deg * rng.standard_normal()
    head_scale = 1 + st.head_scale_sd * rng.standard_normal()
    head = similarity(center, head_shift, head_rot, head_scale)
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
        bumps.append((au_bumps(au, subject.landmarks, plan.sides.get(au), st.motion_anchor), amps[au]))
    onset_gain = 1 + st.onset_gain_sd * rng.standard_normal()
    flick = 1 + st.flicker_gain_sd * rng.standard_normal()
    flick_grad = tuple(st.flicker_gradient_sd * rng.standard_normal(2))
    noise_rng = phantom_rng(seed, like, 5, plan.subject_index, plan.clip_index)

    xx, yy = pixel_grid(h, w)
    jinv = invert_affine(jit)
    hinv = invert_affine(head)

    def frame(qx, qy, extra_gain, grad):
        mx = cv2.remap(subject.map_x, qx, qy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        my = cv2.remap(subject.map_y, qx, qy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        img = cv2.remap(base_float(subject.base), mx, my, cv2.INTER_CUBIC,
                        borderMode=cv2.BORDER_REFLECT101)
        img = colour_transform(img, subject.colour, subject.grayscale, extra_gain, grad)
        img += noise_rng.normal(0.0, st.noise_sd, img.shape).astype(np.float32)
        np.rint(img, out=img)
        np.clip(img, 0, 255, out=img)
        return img.astype(np.uint8)

    # onset: q = J^-1(p)
    qx = (jinv[0, 0] * xx + jinv[0, 1] * yy + jinv[0, 2]).astype(np.float32)
    qy = (jinv[1, 0] * xx + jinv[1, 1] * yy + jinv[1, 2]).astype(np.float32)
    onset = frame(qx, qy, onset_gain, (0.0, 0.0))
    # apex: q = J^-1(H^-1(p)), then the AU fields (defined on the subject face) pull from q - D(q)
    # the head moves, the background does not: the rigid motion fades out with a soft head mask
    hm = head_mask(xx, yy, subject)
    px = xx + hm * (hinv[0, 0] * xx + hinv[0, 1] * yy + hinv[0, 2] - xx)
    py = yy + hm * (hinv[1, 0] * xx + hinv[1, 1] * yy + hinv[1, 2] - yy)
    qx = (jinv[0, 0] * px + jinv[0, 1] * py + jinv[0, 2]).astype(np.float32)
    qy = (jinv[1, 0] * px + jinv[1, 1] * py + jinv[1, 2]).astype(np.float32)
    dx = np.zeros_like(qx)
    dy = np.zeros_like(qy)
    bounds = CoordinateBounds(qx, qy)
    for b, a in bumps:
        ddx, ddy = displacement(qx, qy, b, a, st.au_sigma_scale, bounds)
        dx += ddx
        dy += ddy
    apex = frame(qx - dx, qy - dy, onset_gain * flick, flick_grad)

    lm_onset = apply_affine(jit, subject.landmarks)
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
        "iod_px": round(FaceFrame(lm_onset).iod, 3), "base_face": base_faces()[subject.base].name,
    }
    if st.motion_anchor != "table1":  # recorded only for the control, so default truth files stay as they were
        truth["motion_anchor"] = st.motion_anchor
    return RenderedClip(onset, apex, truth)
