"""Motion magnification of the onset -> apex change (Sec. IV-A: factor 3).

* ``linear`` (default): Eulerian linear magnification with two frames. The temporal band-pass of
  Wu et al. (2012) reduces, for an onset/apex pair, to the frame difference; we low-pass it in space
  (Gaussian, ``blur_sigma`` px) so that sensor noise is not amplified with the motion, and add it
  back: ``apex' = apex + (factor - 1) * G_sigma * (apex - onset)``. With ``blur_sigma = 0`` this is
  exactly ``onset + factor * (apex - onset)``. For a smooth image shifted by d (first-order
  Taylor) the result is the image shifted by ``factor * d``; like every linear Eulerian method it
  saturates and leaves visible artefacts once ``factor * d`` exceeds about a pixel on sharp edges.
* ``learned``: the encoder-manipulator-decoder network of Oh et al. (2018), "Learning-based video
  motion magnification" (ECCV), as :class:`MagNet` (torch). It needs a trained checkpoint (a
  PyTorch ``state_dict`` of this module), which the user supplies: none ships here.
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
    "PrepSettings(magnify='learned', learned_checkpoint='/path/to/magnet.pth'), a PyTorch state_dict "
    "of microau.prep.magnify.MagNet (e.g. converted from the authors' TensorFlow release "
    "'12dmodel/deep_motion_mag', or trained with their synthetic data). No checkpoint ships with "
    "microau; use magnify='linear' (the default) otherwise."
)


def _build_classes():
    import torch
    from torch import nn

    class ResBlock(nn.Module):
        """conv3x3 - ReLU - conv3x3 plus identity (reflection padding, as the original)."""

        def __init__(self, ch: int):
            super().__init__()
            self.body = nn.Sequential(
                nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), nn.ReLU(inplace=True),
                nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3),
            )

        def forward(self, x):
            return x + self.body(x)

    def conv(cin, cout, k, stride=1, relu=True):
        layers = [nn.ReflectionPad2d(k // 2), nn.Conv2d(cin, cout, k, stride=stride)]
        if relu:
            layers.append(nn.ReLU(inplace=True))
        return nn.Sequential(*layers)

    class Encoder(nn.Module):
        """Frame -> (texture at 1/4 resolution, shape at 1/2 resolution)."""

        def __init__(self):
            super().__init__()
            self.trunk = nn.Sequential(conv(3, 16, 7), conv(16, 32, 3, 2), *[ResBlock(32) for _ in range(3)])
            self.texture = nn.Sequential(conv(32, 32, 3, 2), ResBlock(32), ResBlock(32))
            self.shape = nn.Sequential(conv(32, 32, 3), ResBlock(32), ResBlock(32))

        def forward(self, x):
            h = self.trunk(x)
            return self.texture(h), self.shape(h)

    class Manipulator(nn.Module):
        """M_a + h((alpha - 1) * g(M_b - M_a)): g = conv3x3 + ReLU, h = conv3x3 + residual block."""

        def __init__(self):
            super().__init__()
            self.g = conv(32, 32, 3)
            self.h = nn.Sequential(conv(32, 32, 3, relu=False), ResBlock(32))

        def forward(self, shape_a, shape_b, factor):
            return shape_a + self.h(self.g(shape_b - shape_a) * (factor - 1.0))

    class Decoder(nn.Module):
        """(texture, magnified shape) -> frame."""

        def __init__(self):
            super().__init__()
            self.texture_up = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), conv(32, 32, 3))
            self.body = nn.Sequential(*[ResBlock(64) for _ in range(9)])
            self.out = nn.Sequential(
                nn.Upsample(scale_factor=2, mode="nearest"), conv(64, 32, 3), conv(32, 3, 7, relu=False)
            )

        def forward(self, texture, shape):
            h = torch.cat([self.texture_up(texture), shape], dim=1)
            return self.out(self.body(h))

    class MagNet(nn.Module):
        """Encoder-manipulator-decoder motion magnifier (Oh et al., ECCV 2018).

        ``forward(frame_a, frame_b, factor)`` takes [B, 3, H, W] frames in [-1, 1] (H, W multiples
        of 4) and returns frame_b with the a -> b motion magnified ``factor`` times; the texture
        comes from frame_b, the shape from the manipulated representation.
        """

        def __init__(self):
            super().__init__()
            self.encoder = Encoder()
            self.manipulator = Manipulator()
            self.decoder = Decoder()

        def forward(self, frame_a, frame_b, factor: float):
            _, shape_a = self.encoder(frame_a)
            texture_b, shape_b = self.encoder(frame_b)
            return self.decoder(texture_b, self.manipulator(shape_a, shape_b, factor))

        @torch.no_grad()
        def magnify(self, onset: np.ndarray, apex: np.ndarray, factor: float = 3.0) -> np.ndarray:
            """numpy in/out (0..255, (H, W) or (H, W, 3)), float32, same shape as ``apex``."""
            a, b = np.asarray(onset, np.float32), np.asarray(apex, np.float32)
            gray = b.ndim == 2
            if gray:
                a, b = np.repeat(a[..., None], 3, 2), np.repeat(b[..., None], 3, 2)
            h, w = b.shape[:2]
            ph, pw = (-h) % 4, (-w) % 4

            def tens(x):
                t = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None] / 127.5 - 1.0
                return torch.nn.functional.pad(t, (0, pw, 0, ph), mode="reflect") if (ph or pw) else t

            p = next(self.parameters())
            out = self(tens(a).to(p), tens(b).to(p), float(factor))[0, :, :h, :w]
            out = ((out.float().cpu().numpy().transpose(1, 2, 0) + 1.0) * 127.5).astype(np.float32)
            return out.mean(2) if gray else out

    return {"ResBlock": ResBlock, "Encoder": Encoder, "Manipulator": Manipulator, "Decoder": Decoder,
            "MagNet": MagNet}


_CLASSES: dict | None = None


def __getattr__(name: str):
    """The torch classes are built on first use, so that importing this module (and running the
    linear magnifier in worker processes) does not import torch."""
    global _CLASSES
    if name in ("MagNet", "ResBlock", "Encoder", "Manipulator", "Decoder"):
        if _CLASSES is None:
            _CLASSES = _build_classes()
        return _CLASSES[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_LOADED: dict[str, object] = {}
_LOAD_LOCK = threading.Lock()


def learned_magnifier(checkpoint: str | Path | None, device: str = "cpu"):
    """A :class:`MagNet` with the weights of ``checkpoint`` (cached per process).

    Raises :class:`CheckpointRequired` when no checkpoint is given, ``FileNotFoundError`` when it
    does not exist, and a ``ValueError`` listing the mismatching keys when it does not fit."""
    if checkpoint is None or str(checkpoint) == "":
        raise CheckpointRequired(_LEARNED_HELP)
    path = Path(checkpoint).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"learned magnifier checkpoint not found: {path}. " + _LEARNED_HELP)
    key = f"{path.resolve()}:{device}"
    with _LOAD_LOCK:
        if key not in _LOADED:
            _LOADED[key] = _load_magnet(path, device)
        return _LOADED[key]


def _load_magnet(path: Path, device: str):
    import torch

    net = __getattr__("MagNet")()
    state = torch.load(path, map_location=device, weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    missing, unexpected = [], []
    try:
        res = net.load_state_dict(state, strict=False)
        missing, unexpected = list(res.missing_keys), list(res.unexpected_keys)
    except RuntimeError as err:  # shape mismatches
        raise ValueError(f"checkpoint {path} does not fit MagNet: {err}") from err
    if missing or unexpected:
        raise ValueError(
            f"checkpoint {path} does not fit MagNet: missing keys {missing[:6]}"
            f"{'...' if len(missing) > 6 else ''}, unexpected keys {unexpected[:6]}"
            f"{'...' if len(unexpected) > 6 else ''}. " + _LEARNED_HELP
        )
    return net.to(device).eval()
