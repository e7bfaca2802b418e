"""Flow images straight from known displacement fields: the cheap stand-in for TV-L1.

For a corpus clip the motion between onset and apex is known: the phantom's AU bumps
(``microau.data.phantom.au_bumps`` / ``displacement``) plus a small rigid head motion. The
preparation magnifies the change x3 and measures it with TV-L1; here (our reading of "noise shaped
like TV-L1's output"):

    flow = g * factor * (D_AU + D_head) + n,    n = rms-scaled Gaussian-smoothed white noise

with ``g`` a per-clip gain below 1 (TV-L1 under-estimates sub-pixel motion and smooths peaks) and
``n`` spatially smooth (TV-L1's regularisation turns sensor noise into low-amplitude blobs, not
per-pixel speckle). Alternatives we did not take: running TV-L1 on rendered frames (as slow per
pair as preparing a clip), or median-filtered speckle noise. ``benchmarks/bench_pretrain.py`` compares the rendered
flow with TV-L1's on prepared phantom clips of a corpus seed and prints the fitted gain and the
residual noise.

The flow is encoded exactly as the preparation encodes it (``microau.prep.flow.flow_to_image``).
"""
from __future__ import annotations

import numpy as np

from .corpus import CorpusClip, CorpusSettings, Identity


def jitter_landmarks(lm: np.ndarray, rng: np.random.Generator, settings: CorpusSettings) -> tuple[np.ndarray, float]:
    """The crop is placed by a face detector: shift and scale the face in it a little."""
    scale = 1.0 + settings.crop_scale_sd * rng.standard_normal()
    shift = settings.crop_jitter_px * rng.standard_normal(2)
    c = settings.crop_size / 2.0
    return (lm - c) * scale + c + shift, scale


def grid(size: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (x, y) of a grid with every ``step``-th crop pixel."""
    c = (np.arange(size // step) * step + (step - 1) / 2.0).astype(np.float32)
    return np.meshgrid(c, c)


def au_displacement(clip: CorpusClip, lm: np.ndarray, crop_scale: float, size: int,
                    step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Sum of the clip's AU motion fields (crop px) on the grid ``grid(size, step)``, as the
    phantom defines them."""
    from ..data.phantom import au_bumps, displacement

    xx, yy = grid(size, step)
    dx = np.zeros(xx.shape, np.float32)
    dy = np.zeros(xx.shape, np.float32)
    for au in clip.aus:
        bumps = au_bumps(au, lm, clip.sides.get(au))
        ddx, ddy = displacement(xx, yy, bumps, clip.amplitude_frame_px[au] * crop_scale)
        dx += ddx
        dy += ddy
    return dx, dy


def head_displacement(clip: CorpusClip, lm: np.ndarray, crop_scale: float, size: int,
                      step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Rigid similarity about the face centre (shift in frame px scaled into the crop), on
    ``grid(size, step)``."""
    sx, sy, rot_deg, dscale = clip.head
    c = lm[27:31].mean(0)
    a = np.deg2rad(rot_deg)
    m = (1.0 + dscale) * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) - np.eye(2)
    xx, yy = grid(size, step)
    px, py = xx - c[0], yy - c[1]
    dx = m[0, 0] * px + m[0, 1] * py + sx * crop_scale
    dy = m[1, 0] * px + m[1, 1] * py + sy * crop_scale
    return dx.astype(np.float32), dy.astype(np.float32)


def tvl1_like_noise(rng: np.random.Generator, size: int, rms_px: float, sigma_px: float) -> np.ndarray:
    """Spatially smooth noise [S, S, 2] with the given rms per component (crop px)."""
    import cv2

    white = rng.standard_normal((size, size, 2)).astype(np.float32)
    smooth = cv2.GaussianBlur(white, (0, 0), float(sigma_px), borderType=cv2.BORDER_REFLECT101)
    sd = float(smooth.std()) or 1.0
    return smooth * (rms_px / sd)


def render_flow(clip: CorpusClip, identity: Identity, rng: np.random.Generator,
                settings: CorpusSettings, step: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(flow [S, S, 2] float32 crop px, landmarks [68, 2]) of one corpus clip.

    The fields are evaluated every ``step`` pixels (``settings.render_step``) and resized
    bilinearly to the crop: they are smooth on that scale (the narrowest AU bump has a sigma of
    about 6 crop px), and ``step=1`` is the plain full-resolution path, tested close to it.
    """
    import cv2

    n = settings.crop_size
    step = settings.render_step if step is None else step
    lm, scale = jitter_landmarks(identity.landmarks, rng, settings)
    crop_scale = identity.crop_scale * scale
    ax, ay = au_displacement(clip, lm, crop_scale, n, step)
    hx, hy = head_displacement(clip, lm, crop_scale, n, step)
    gain = rng.uniform(*settings.tvl1_gain_range) * settings.magnify_factor
    flow = np.stack([ax + hx, ay + hy], axis=-1) * np.float32(gain)
    rms = rng.uniform(*settings.tvl1_noise_px_range)
    flow += tvl1_like_noise(rng, flow.shape[0], rms, settings.tvl1_noise_sigma_px / step)
    if step != 1:
        flow = cv2.resize(flow, (n, n), interpolation=cv2.INTER_LINEAR)
    return flow.astype(np.float32), lm.astype(np.float32)


def render_flow_image(clip: CorpusClip, identity: Identity, rng: np.random.Generator,
                      settings: CorpusSettings) -> np.ndarray:
    """The uint8 flow image of one corpus clip, encoded as the preparation encodes TV-L1's flow."""
    from ..prep.flow import flow_to_image

    flow, _ = render_flow(clip, identity, rng, settings)
    return flow_to_image(flow, settings.flow_scale)
