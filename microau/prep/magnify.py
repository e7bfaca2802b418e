"""Motion magnification of the onset -> apex change (Sec. IV-A: factor 3).

* ``linear`` (default): Eulerian linear magnification with two frames. The temporal band-pass of
  Wu et al. (2012) reduces, for an onset/apex pair, to the frame difference; we low-pass it in space
  (Gaussian, ``blur_sigma`` px) so that sensor noise is not amplified with the motion, and add it
  back: ``apex' = apex + (factor - 1) * G_sigma * (apex - onset)``. With ``blur_sigma = 0`` this is
  exactly ``onset + factor * (apex - onset)``. For a smooth image shifted by d (first-order
  Taylor) the result is the image shifted by ``factor * d``; like every linear Eulerian method it
  saturates and leaves visible artefacts once ``factor * d`` exceeds about a pixel on sharp edges.
* ``learned``: the encoder-manipulator-decoder network of Oh et al. (2018), "Learning-based video
  motion magnification" (ECCV), as :class:`MagNet` (torch). It needs a trained checkpoint, which
  the user supplies (none ships here): the authors' TensorFlow release (read without TensorFlow) or
  one of the public PyTorch ports; :mod:`microau.prep.magnet_formats` recognises each and maps it
  onto :class:`MagNet`, whose :class:`MagNetArch` options cover the ports' differences.
  ``factor`` means the same for every format: the onset -> apex motion multiplied by ``factor``.
* ``none``: the apex frame as it is.

Images are float32 arrays in 0..255, (H, W) or (H, W, C).
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

METHODS = ("linear", "learned", "none")


class CheckpointRequired(ValueError):
    """The learned magnifier was asked for without a checkpoint file."""


def magnify_linear(onset: np.ndarray, apex: np.ndarray, factor: float = 3.0, blur_sigma: float = 1.0) -> np.ndarray:
    """Eulerian linear magnification of the onset -> apex change (float32, not clipped)."""
    import cv2

    a = np.asarray(onset, np.float32)
    b = np.asarray(apex, np.float32)
    diff = b - a
    if blur_sigma and blur_sigma > 0:
        diff = cv2.GaussianBlur(diff, (0, 0), float(blur_sigma), borderType=cv2.BORDER_REFLECT101)
    return b + (float(factor) - 1.0) * diff


def magnify(onset: np.ndarray, apex: np.ndarray, method: str = "linear", factor: float = 3.0,
            blur_sigma: float = 1.0, checkpoint: str | Path | None = None) -> np.ndarray:
    """Magnified apex as uint8 (same shape as ``apex``)."""
    if method == "linear":
        out = magnify_linear(onset, apex, factor, blur_sigma)
    elif method == "none":
        out = np.asarray(apex, np.float32)
    elif method == "learned":
        out = learned_magnifier(checkpoint).magnify(onset, apex, factor)
    else:
        raise ValueError(f"magnification method must be one of {METHODS}, got {method!r}")
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- learned (Oh et al. 2018)

_LEARNED_HELP = (
    "magnify='learned' needs a trained checkpoint of the Oh et al. (2018) network: pass "
    "--magnify-checkpoint PATH (PrepSettings(magnify='learned', learned_checkpoint=PATH)), one of: "
    "the authors' TensorFlow release '12dmodel/deep_motion_mag' (its checkpoint folder or an .npz dump), a checkpoint of "
    "'postech-ami/Deep-Motion-Mag-Pytorch', 'ZhengPeng7/motion_magnification_learning-based' or "
    "'cgst/motion-magnification', or a state_dict of microau.prep.magnify.MagNet "
    "(see the book's 'Your own data' page). No checkpoint ships with microau; use "
    "magnify='linear' (the default) otherwise."
)


def __getattr__(name: str):
    """The network lives in :mod:`microau.prep.magnet`; ``magnify.MagNet`` and friends still work."""
    from . import magnet

    if name in ("MagNet", "MagNetArch", "ResBlock", "Encoder", "Manipulator", "Decoder"):
        return getattr(magnet, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_LOADED: dict[str, object] = {}
_LOAD_LOCK = threading.Lock()


def learned_magnifier(checkpoint: str | Path | None, device: str = "cpu"):
    """A :class:`MagNet` with the weights of ``checkpoint`` (any format that
    :func:`microau.prep.magnet_formats.load_magnet` recognises; cached per process).

    Raises :class:`CheckpointRequired` when no checkpoint is given, ``FileNotFoundError`` when it
    does not exist, and a ``ValueError`` naming the format and the mismatching keys when it does
    not fit."""
    if checkpoint is None or str(checkpoint) == "":
        raise CheckpointRequired(_LEARNED_HELP)
    path = Path(checkpoint).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"learned magnifier checkpoint not found: {path}. " + _LEARNED_HELP)
    key = f"{path.resolve()}:{device}"
    with _LOAD_LOCK:
        if key not in _LOADED:
            from .magnet_formats import load_magnet

            _LOADED[key] = load_magnet(path).to(device).eval()
        return _LOADED[key]
