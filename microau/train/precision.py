"""Numeric precision of training (``Config.precision``): 'fp32' (the default and the reference) or
'bf16'.

- 'bf16': the trainable part of each step (the forward of the trainable blocks, the heads and the
  losses) runs under ``torch.autocast`` with bfloat16; parameters, gradients and the SGD update
  stay float32. The frozen visual prefix is computed once in float32 by the fast trainer (the
  reference trainer, which recomputes it every step, runs it under the same autocast).
- 'fp32' on a CUDA device: float32 matrix products and convolutions may use TensorFloat-32
  (``torch.backends.cuda.matmul.allow_tf32`` and ``torch.backends.cudnn.allow_tf32`` set to True
  by :func:`configure_device`): about 10 mantissa bits in the products' inputs, float32
  accumulation. On a CPU, fp32 is plain float32.

bf16 against fp32 on CPU autocast is checked in ``tests/test_training.py`` (the tolerance is
stated there).
"""
from __future__ import annotations

import contextlib

import torch

from ..config import Config


def device_type(cfg: Config) -> str:
    return torch.device(cfg.device).type


def configure_device(cfg: Config) -> None:
    """Allow TF32 products on CUDA when fp32 is asked for (a process-wide torch setting)."""
    if device_type(cfg) == "cuda" and cfg.precision == "fp32":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def autocast(cfg: Config):
    """The context the trainable part of a step runs in: bf16 autocast, or nothing for fp32."""
    if cfg.precision == "bf16":
        return torch.autocast(device_type=device_type(cfg), dtype=torch.bfloat16)
    return contextlib.nullcontext()
