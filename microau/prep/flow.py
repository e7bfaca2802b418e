"""TV-L1 optical flow (OpenCV contrib's Dual TV-L1) and the flow image fed to CLIP.

Flow image encoding (fixed scale, never normalised per image, so that magnitudes compare across
clips, subjects and data sets):

    R = clip(round(128 + k * u), 0, 255)
    G = clip(round(128 + k * v), 0, 255)
    B = clip(round(2 * k * sqrt(u^2 + v^2)), 0, 255)

with u, v the flow in pixels of the 224 x 224 face crop (x right, y down) and ``k =
PrepSettings.flow_scale`` (16 grey levels per pixel by default: u and v saturate at about +-8 px,
the magnitude at 8 px, and one grey level is 1/16 px of u or v, 1/32 px of magnitude).
``decode_flow_image`` inverts R and G.
"""
from __future__ import annotations

import numpy as np


def to_gray01(img: np.ndarray) -> np.ndarray:
    """float32 grey image in [0, 1] (the range OpenCV's TV-L1 expects for float input)."""
    import cv2

    arr = np.asarray(img)
    if arr.ndim == 3:
        arr = cv2.cvtColor(arr.astype(np.float32) if arr.dtype != np.uint8 else arr, cv2.COLOR_RGB2GRAY)
    return np.ascontiguousarray(arr, dtype=np.float32) / 255.0


def tvl1_flow(first: np.ndarray, second: np.ndarray, tau: float = 0.25, lambda_: float = 0.15,
              theta: float = 0.3, nscales: int = 5, warps: int = 5, epsilon: float = 0.01,
              inner_iterations: int = 30, outer_iterations: int = 10, scale_step: float = 0.8,
              gamma: float = 0.0, median_filtering: int = 5) -> np.ndarray:
    """Dense flow first -> second, float32 [H, W, 2] (u, v) in pixels: ``first(x) ~ second(x + f(x))``.

    Images: uint8/float 0..255, grey or RGB. Defaults are OpenCV's (Zach et al. 2007 / Sanchez et al. 2013).
    """
    import cv2

    # positional: the keyword for the inner iterations is misspelt ('innnerIterations') in OpenCV
    tv = cv2.optflow.DualTVL1OpticalFlow_create(
        float(tau), float(lambda_), float(theta), int(nscales), int(warps), float(epsilon),
        int(inner_iterations), int(outer_iterations), float(scale_step), float(gamma),
        int(median_filtering), False,
    )
    return tv.calc(to_gray01(first), to_gray01(second), None)


def flow_to_image(flow: np.ndarray, scale: float = 16.0) -> np.ndarray:
    """The fixed-scale (u, v, magnitude) encoding described in the module docstring: uint8 [H, W, 3]."""
    f = np.asarray(flow, np.float32)
    u, v = f[..., 0], f[..., 1]
    mag = np.sqrt(u * u + v * v)
    out = np.stack([128.0 + scale * u, 128.0 + scale * v, 2.0 * scale * mag], axis=-1)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def decode_flow_image(img: np.ndarray, scale: float = 16.0) -> np.ndarray:
    """(u, v) in pixels from a flow image (exact up to rounding where nothing saturated)."""
    a = np.asarray(img, np.float32)
    return np.stack([(a[..., 0] - 128.0) / scale, (a[..., 1] - 128.0) / scale], axis=-1)


def region_motion(flow: np.ndarray, landmarks: np.ndarray, indices, radius: float = 12.0) -> np.ndarray:
    """Mean (u, v, magnitude) of ``flow`` in discs of ``radius`` px around the given landmarks
    (a simple hand-made feature for baselines and figures): float32 [3]."""
    f = np.asarray(flow, np.float32)
    h, w = f.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    mask = np.zeros((h, w), bool)
    for i in indices:
        x, y = landmarks[i]
        mask |= (xx - x) ** 2 + (yy - y) ** 2 <= radius * radius
    if not mask.any():
        return np.zeros(3, np.float32)
    sel = f[mask]
    return np.array([sel[:, 0].mean(), sel[:, 1].mean(), np.hypot(sel[:, 0], sel[:, 1]).mean()], np.float32)
