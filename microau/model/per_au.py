"""Per-AU layers: N independent linear maps, one per AU, stored as one [N, in, out] weight.

The paper gives every AU its own PTA scoring MLP (Eq. 2) and its own classifier (Eq. 7).
``PerAULinear`` holds those N layers side by side. ``forward`` applies all of them in one
batched product (what the trainers use); ``forward_au`` applies AU n's layer alone, the plain
reading, which the modules built on it keep as their reference path (``grouped = False``).
The weight is stored input-major (``y = x @ W_n + b_n``, the transpose of ``nn.Linear``'s layout)
so that its gradient under the fast trainer's fold stacking needs no transposed copy.
"""
from __future__ import annotations

import math

import torch
from torch import nn


class PerAULinear(nn.Module):
    def __init__(self, n_aus: int, fan_in: int, fan_out: int, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_aus, fan_in, fan_out))
        self.bias = nn.Parameter(torch.empty(n_aus, fan_out)) if bias else None
        bound = 1.0 / math.sqrt(fan_in)
        for n in range(n_aus):  # nn.Linear's initialisation, one AU after the other
            nn.init.kaiming_uniform_(self.weight.data[n].T, a=math.sqrt(5))
            if self.bias is not None:
                nn.init.uniform_(self.bias.data[n], -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, N, ..., in] -> [B, N, ..., out]: AU n's layer on x[:, n], all AUs in one product."""
        B, N = x.shape[:2]
        middle = x.shape[2:-1]
        xs = x.transpose(0, 1).reshape(N, -1, x.shape[-1])  # [N, B*..., in]
        y = torch.bmm(xs, self.weight)
        if self.bias is not None:
            y = y + self.bias.unsqueeze(1)
        return y.reshape(N, B, *middle, -1).transpose(0, 1)

    def forward_au(self, x: torch.Tensor, n: int) -> torch.Tensor:
        """AU n's layer alone: x [..., in] -> [..., out]."""
        y = x @ self.weight[n]
        return y if self.bias is None else y + self.bias[n]


def per_au_mlp(hidden: PerAULinear, out: PerAULinear, x: torch.Tensor, grouped: bool) -> torch.Tensor:
    """Each AU's Linear -> ReLU -> Linear on its own slice: x [B, N, ..., in] -> [B, N, ..., out].

    ``grouped``: all AUs in one product per layer; otherwise AU after AU (the reference path).
    """
    if grouped:
        return out(torch.relu(hidden(x)))
    per_au = [out.forward_au(torch.relu(hidden.forward_au(x[:, n], n)), n) for n in range(x.shape[1])]
    return torch.stack(per_au, 1)
