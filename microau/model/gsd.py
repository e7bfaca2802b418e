"""Global semantic dependency (Sec. III-C): a global feature F_G shared by all AUs.

``gda`` is Global Dependency Attention (Eq. 4-6); ``add_mlp`` and ``cat_mlp`` are the Table VII
baselines (sum or concatenation of the AU features, then an MLP); ``none`` sets F_G = 0.
The per-AU heads of Eq. 7 live in ``AUHeads``.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .per_au import PerAULinear, per_au_mlp


class GlobalDependencyAttention(nn.Module):
    """Eq. 4-6: A = softmax(QK^T / sqrt(d)), W_d = softmax(ReLU(FC(A))), F_G = W_d F~ W^V.

    FC maps the flattened N x N attention map to N scores (DESIGN: the paper leaves the FC's
    input shape open; this is the reading that yields W_d in R^{1 x N}).
    """

    def __init__(self, n_aus: int, width: int):
        super().__init__()
        self.query = nn.Linear(width, width, bias=False)  # W^Q
        self.key = nn.Linear(width, width, bias=False)  # W^K
        self.value = nn.Linear(width, width, bias=False)  # W^V
        self.fc = nn.Linear(n_aus * n_aus, n_aus)
        self.scale = 1.0 / math.sqrt(width)

    def forward(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """feats F~ [B, N, d] -> (F_G [B, d], W_d [B, N], A [B, N, N])."""
        q, k = self.query(feats), self.key(feats)
        attn = torch.softmax(q @ k.transpose(1, 2) * self.scale, dim=-1)  # Eq. 4
        dep = torch.softmax(torch.relu(self.fc(attn.flatten(1))), dim=-1)  # Eq. 5
        global_feat = torch.einsum("bn,bnd->bd", dep, self.value(feats))  # Eq. 6
        return global_feat, dep, attn


class PooledGlobalFeature(nn.Module):
    """Table VII baselines: F_G = MLP(sum_n F~_n) ('add_mlp') or MLP([F~_1; ...; F~_N])."""

    def __init__(self, mode: str, n_aus: int, width: int):
        super().__init__()
        self.mode = mode
        fan_in = width if mode == "add_mlp" else n_aus * width
        self.mlp = nn.Sequential(nn.Linear(fan_in, width), nn.ReLU(), nn.Linear(width, width))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        pooled = feats.sum(1) if self.mode == "add_mlp" else feats.flatten(1)
        return self.mlp(pooled)


class AUHeads(nn.Module):
    """Eq. 7: P_n = softmax(MLP_n(F_G + F~_n)), one independent head per AU (logits returned).

    ``grouped = False`` (default) runs head after head; ``True`` runs all heads in one batched
    product with the same weights (the fast trainer's path).
    """

    def __init__(self, n_aus: int, width: int, hidden: int):
        super().__init__()
        self.hidden = PerAULinear(n_aus, width, hidden)
        self.out = PerAULinear(n_aus, hidden, 2)
        self.grouped = False

    def forward(self, au_feats: torch.Tensor) -> torch.Tensor:
        """au_feats [B, N, d] -> logits [B, N, 2] (softmax gives Eq. 7's P_n)."""
        return per_au_mlp(self.hidden, self.out, au_feats, self.grouped)
