"""AU motion on a face: face-centred axes from 68 landmarks, FACS-like Gaussian displacement
bumps per AU, and the small 2-D geometry helpers the renderer uses."""
from __future__ import annotations

import numpy as np


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


# The 'offsite' control (issue 22, PhantomSettings.motion_anchor): every bump keeps its shape,
# direction and weight but is moved, in face coordinates, by the shift (out, down; IOD) of the
# region its anchor landmarks lie in, to places with no Table I landmark (microau.aus.AU_LANDMARKS):
# brows to the forehead, eyes to the temples, lips to the outer cheeks, the chin and the
# lower-lip midline to the nose, the upper-lip midline up to the nose tip. Bumps on the nose
# (AU9's wings and root) stay: no Table I landmark is there. Measured on ten phantom subjects
# (tests/test_phantom_controls.py): the moved centres of every selected AU lie >= OFFSITE_MIN_IOD
# from every Table I landmark, an AU's motion there is under a quarter of its peak (the
# mechanisms' "moving" threshold), and >= 0.85 of its motion energy stays inside the face crop.
# The shifts trade the first for the last: larger ones push the motion out of the crop.
OFFSITE_SHIFT_IOD: dict[str, tuple[float, float]] = {
    "brow": (0.0, -0.4), "eye": (0.5, 0.0), "lip": (0.45, -0.6), "chin": (0.0, -0.85),
    "upper_lip_mid": (0.0, -0.5), "nose": (0.0, 0.0),
}
OFFSITE_MIN_IOD = 0.28
_CHIN_MID, _UPPER_LIP_MID = {8, 57, 66}, {51, 62}


def anchor_region(idx) -> str:
    """The face region of a bump's anchor landmarks (a key of :data:`OFFSITE_SHIFT_IOD`)."""
    s = set(idx)
    if s <= _CHIN_MID:
        return "chin"
    if s <= _UPPER_LIP_MID:
        return "upper_lip_mid"
    for region, (lo, hi) in {"brow": (17, 26), "eye": (36, 47), "lip": (48, 67), "nose": (27, 35)}.items():
        if all(lo <= i <= hi for i in s):
            return region
    raise ValueError(f"no offsite region for a bump anchored on landmarks {sorted(s)}")


def au_bumps(au: int, lm: np.ndarray, side: str | None = None, anchor: str = "table1"
             ) -> list[tuple[np.ndarray, np.ndarray, float, float]]:
    """Gaussian bumps (centre, unit direction, weight, sigma px) of one AU on the face ``lm``.
    ``side`` 'L' keeps the subject's left (image right) half only, 'R' the image-left half.
    ``anchor`` 'offsite' moves each bump by its region's :data:`OFFSITE_SHIFT_IOD`."""
    if anchor not in ("table1", "offsite"):
        raise ValueError(f"anchor must be 'table1' or 'offsite', got {anchor!r}")
    ff = FaceFrame(lm)
    out = []
    for idx, (o_out, o_down), (d_out, d_up), w, s in AU_BUMPS[au]:
        c = ff.lm[list(idx)].mean(0)
        sd = ff.side(c)
        if side == "L" and sd < 0 or side == "R" and sd > 0:
            continue
        c = c + ff.iod * (o_out * sd * ff.ex + o_down * ff.ey)
        if anchor == "offsite":
            m_out, m_down = OFFSITE_SHIFT_IOD[anchor_region(idx)]
            c = c + ff.iod * (m_out * sd * ff.ex + m_down * ff.ey)
        out.append((c, ff.vec(c, d_out, d_up), float(w), float(s) * ff.iod))
    return out


class CoordinateBounds:
    """Per-row and per-column extent of a pair of sample-coordinate fields (qx, qy), to find
    the rectangle of pixels a bump can reach without testing every pixel of the frame."""

    def __init__(self, qx: np.ndarray, qy: np.ndarray):
        self.row_lo, self.row_hi = qy.min(1).astype(np.float64), qy.max(1).astype(np.float64)
        self.col_lo, self.col_hi = qx.min(0).astype(np.float64), qx.max(0).astype(np.float64)

    def window(self, c, r: float) -> tuple[slice, slice] | None:
        """The smallest rectangle holding every pixel with |qx - cx| < r and |qy - cy| < r
        (a pixel's margin against rounding); None when there is none."""
        rows = np.flatnonzero((self.row_lo < c[1] + r + 1) & (self.row_hi > c[1] - r - 1))
        cols = np.flatnonzero((self.col_lo < c[0] + r + 1) & (self.col_hi > c[0] - r - 1))
        if not len(rows) or not len(cols):
            return None
        return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def displacement(qx: np.ndarray, qy: np.ndarray, bumps, amplitude: float, sigma_scale: float = 1.0,
                 bounds: CoordinateBounds | None = None):
    """Forward displacement (dx, dy) at points (qx, qy) of a sum of Gaussian bumps whose
    weight-1 peak is ``amplitude`` px. Each bump is evaluated where it matters (|q - c| < 3.5
    sigma per axis), found inside the rectangle ``bounds`` gives (computed when None):
    the same pixels, values and order as testing the whole frame (:func:`displacement_plain`)."""
    if qx.ndim != 2:
        return displacement_plain(qx, qy, bumps, amplitude, sigma_scale)
    dx = np.zeros(qx.shape, np.float32)
    dy = np.zeros(qx.shape, np.float32)
    bounds = bounds or CoordinateBounds(qx, qy)
    for c, v, w, s in bumps:
        s = s * sigma_scale
        r = 3.5 * s
        win = bounds.window(c, r)
        if win is None:
            continue
        wx, wy = qx[win], qy[win]
        m = (np.abs(wx - c[0]) < r) & (np.abs(wy - c[1]) < r)
        if not m.any():
            continue
        g = np.exp(-((wx[m] - c[0]) ** 2 + (wy[m] - c[1]) ** 2) / (2 * s * s)) * (w * amplitude)
        dx[win][m] += (g * v[0]).astype(np.float32)
        dy[win][m] += (g * v[1]).astype(np.float32)
    return dx, dy


def displacement_plain(qx: np.ndarray, qy: np.ndarray, bumps, amplitude: float, sigma_scale: float = 1.0):
    """:func:`displacement` testing every point against every bump (the reference)."""
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


def similarity(center, shift, rot_deg, scale) -> np.ndarray:
    """2x3 forward matrix: rotate/scale about ``center`` then shift."""
    a = np.deg2rad(rot_deg)
    c, s = np.cos(a) * scale, np.sin(a) * scale
    cx, cy = center
    return np.array(
        [[c, -s, cx - c * cx + s * cy + shift[0]], [s, c, cy - s * cx - c * cy + shift[1]]], np.float64
    )


def apply_affine(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


def invert_affine(m: np.ndarray) -> np.ndarray:
    a = m[:, :2]
    ai = np.linalg.inv(a)
    return np.hstack([ai, (-ai @ m[:, 2])[:, None]])


def sample_at(field_: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Bilinear samples of a 2-D array at (x, y) points."""
    import cv2

    p = np.asarray(pts, np.float32).reshape(-1, 1, 2)
    return cv2.remap(field_, p[..., 0], p[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE).reshape(-1).astype(np.float64)
