"""The learned magnifier of Oh et al. (2018), "Learning-based video motion magnification": its
architecture options (:class:`MagNetArch`, covering the public ports' differences) and the torch
network :class:`MagNet` (built on first use, so that importing this module does not import torch).
:mod:`microau.prep.magnet_formats` reads the ports' checkpoints into it."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

@dataclass(frozen=True)
class MagNetArch:
    """The options in which the published versions of Oh et al.'s network differ.

    The defaults are the authors' TensorFlow release (configuration ``o3f_hmhm2_bg_qnoise_mix4_
    nl_n_t_ds3``); :data:`microau.prep.magnet_formats.FORMAT_ARCHS` lists every port's values.
    """

    bias: bool = False  # convolutions carry a bias
    encoder_padding: str = "tf_same"  # the two strided and the shape convs: 'tf_same' | 'reflect'
    manipulator_kernel: int = 7  # kernel of g(.) in the manipulator
    manipulator_base: str = "b"  # the change is added to the shape of frame 'a' or 'b'
    multiplier_offset: float = 1.0  # g(.) is multiplied by (amp - offset)
    texture_up_conv: bool = True  # a conv + ReLU follows the texture up-sampling
    decoder_up_conv: bool = False  # an extra 64->64 conv + ReLU after the decoder up-sampling
    input_range: str = "-1..1"  # pixel range the network was trained on: '-1..1' | '0..1'
    enc_resblocks: int = 3
    texture_resblocks: int = 2
    shape_resblocks: int = 2
    manipulator_resblocks: int = 1
    decoder_resblocks: int = 9

    def __post_init__(self):
        if self.encoder_padding not in ("tf_same", "reflect"):
            raise ValueError(f"encoder_padding must be 'tf_same' or 'reflect', got {self.encoder_padding!r}")
        if self.manipulator_base not in ("a", "b"):
            raise ValueError(f"manipulator_base must be 'a' or 'b', got {self.manipulator_base!r}")
        if self.input_range not in ("-1..1", "0..1"):
            raise ValueError(f"input_range must be '-1..1' or '0..1', got {self.input_range!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def _build_classes():
    import torch
    from torch import nn
    from torch.nn import functional as F

    def reflect_conv(conv: nn.Conv2d, x):
        p = conv.kernel_size[0] // 2
        return conv(F.pad(x, (p, p, p, p), mode="reflect") if p else x)

    def tf_same_conv(conv: nn.Conv2d, x):
        """TensorFlow's 'SAME' padding: zeros, the odd one at the bottom/right."""
        k, s = conv.kernel_size[0], conv.stride[0]
        pads = []
        for size in (x.shape[-1], x.shape[-2]):
            total = max(k - (size % s or s), 0)
            pads += [total // 2, total - total // 2]
        return conv(F.pad(x, pads))

    class ResBlock(nn.Module):
        """x + conv(ReLU(conv(x))), 3x3 convolutions with reflection padding."""

        def __init__(self, ch: int, bias: bool):
            super().__init__()
            self.conv1 = nn.Conv2d(ch, ch, 3, bias=bias)
            self.conv2 = nn.Conv2d(ch, ch, 3, bias=bias)

        def forward(self, x):
            return x + reflect_conv(self.conv2, torch.relu(reflect_conv(self.conv1, x)))

    def blocks(n, ch, bias):
        return nn.ModuleList([ResBlock(ch, bias) for _ in range(n)])

    def run(mods, x):
        for m in mods:
            x = m(x)
        return x

    class Encoder(nn.Module):
        """Frame -> (texture at 1/4 resolution, shape at 1/2 resolution)."""

        def __init__(self, arch: MagNetArch):
            super().__init__()
            b = arch.bias
            self.arch = arch
            self.conv1 = nn.Conv2d(3, 16, 7, bias=b)
            self.conv2 = nn.Conv2d(16, 32, 3, stride=2, bias=b)
            self.res = blocks(arch.enc_resblocks, 32, b)
            self.texture_conv = nn.Conv2d(32, 32, 3, stride=2, bias=b)
            self.texture_res = blocks(arch.texture_resblocks, 32, b)
            self.shape_conv = nn.Conv2d(32, 32, 3, bias=b)
            self.shape_res = blocks(arch.shape_resblocks, 32, b)

        def forward(self, x):
            pad = tf_same_conv if self.arch.encoder_padding == "tf_same" else reflect_conv
            h = torch.relu(reflect_conv(self.conv1, x))
            h = run(self.res, torch.relu(pad(self.conv2, h)))
            texture = run(self.texture_res, torch.relu(pad(self.texture_conv, h)))
            shape = run(self.shape_res, torch.relu(pad(self.shape_conv, h)))
            return texture, shape

    class Manipulator(nn.Module):
        """base + h((amp - offset) * g(shape_b - shape_a)); g = conv + ReLU, h = conv + res blocks."""

        def __init__(self, arch: MagNetArch):
            super().__init__()
            self.arch = arch
            self.g = nn.Conv2d(32, 32, arch.manipulator_kernel, bias=arch.bias)
            self.h_conv = nn.Conv2d(32, 32, 3, bias=arch.bias)
            self.h_res = blocks(arch.manipulator_resblocks, 32, arch.bias)

        def forward(self, shape_a, shape_b, amp):
            amp = torch.as_tensor(amp, dtype=shape_a.dtype, device=shape_a.device).reshape(-1, 1, 1, 1)
            change = torch.relu(reflect_conv(self.g, shape_b - shape_a)) * (amp - self.arch.multiplier_offset)
            change = run(self.h_res, reflect_conv(self.h_conv, change))
            return (shape_a if self.arch.manipulator_base == "a" else shape_b) + change

    class Decoder(nn.Module):
        """(texture, manipulated shape) -> frame."""

        def __init__(self, arch: MagNetArch):
            super().__init__()
            b = arch.bias
            if arch.texture_up_conv:
                self.texture_up_conv = nn.Conv2d(32, 32, 3, bias=b)
            self.res = blocks(arch.decoder_resblocks, 64, b)
            if arch.decoder_up_conv:
                self.up_conv = nn.Conv2d(64, 64, 3, bias=b)
            self.conv1 = nn.Conv2d(64, 32, 3, bias=b)
            self.conv_out = nn.Conv2d(32, 3, 7, bias=b)

        def forward(self, texture, shape):
            texture = F.interpolate(texture, scale_factor=2, mode="nearest")
            if hasattr(self, "texture_up_conv"):
                texture = torch.relu(reflect_conv(self.texture_up_conv, texture))
            h = run(self.res, torch.cat([texture, shape], dim=1))
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            if hasattr(self, "up_conv"):
                h = torch.relu(reflect_conv(self.up_conv, h))
            return reflect_conv(self.conv_out, torch.relu(reflect_conv(self.conv1, h)))

    class MagNet(nn.Module):
        """Encoder-manipulator-decoder motion magnifier (Oh et al., ECCV 2018).

        ``forward(frame_a, frame_b, amp)`` takes [B, 3, H, W] frames in the network's pixel range
        (``arch.input_range``; H, W multiples of 4) and returns frame_b's texture with the
        manipulated shape. ``amp`` is the amplification argument as the port was trained with it;
        every published port was trained on the authors' data, whose targets carry the a -> b
        motion multiplied by that value, so ``amp = factor`` (see :meth:`magnify`).
        """

        def __init__(self, arch: MagNetArch | None = None):
            super().__init__()
            self.arch = arch or MagNetArch()
            self.encoder = Encoder(self.arch)
            self.manipulator = Manipulator(self.arch)
            self.decoder = Decoder(self.arch)

        def forward(self, frame_a, frame_b, amp):
            _, shape_a = self.encoder(frame_a)
            texture_b, shape_b = self.encoder(frame_b)
            return self.decoder(texture_b, self.manipulator(shape_a, shape_b, amp))

        @torch.no_grad()
        def magnify(self, onset: np.ndarray, apex: np.ndarray, factor: float = 3.0) -> np.ndarray:
            """The apex with the onset -> apex motion multiplied by ``factor``.

            numpy in/out (0..255, (H, W) or (H, W, 3)), float32, same shape as ``apex``."""
            a, b = np.asarray(onset, np.float32), np.asarray(apex, np.float32)
            gray = b.ndim == 2
            if gray:
                a, b = np.repeat(a[..., None], 3, 2), np.repeat(b[..., None], 3, 2)
            h, w = b.shape[:2]
            ph, pw = (-h) % 4, (-w) % 4
            unit = self.arch.input_range == "0..1"

            def tens(x):
                t = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]
                t = t / 255.0 if unit else t / 127.5 - 1.0
                return F.pad(t, (0, pw, 0, ph), mode="reflect") if (ph or pw) else t

            p = next(self.parameters())
            out = self(tens(a).to(p), tens(b).to(p), float(factor))[0, :, :h, :w]
            out = out.float().cpu().numpy().transpose(1, 2, 0)
            out = (out * 255.0 if unit else (out + 1.0) * 127.5).astype(np.float32)
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
