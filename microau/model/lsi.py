"""Local semantic independence (Sec. III-B): one pooling pipeline per AU over its region tokens.

``pta`` is Patch Token Attention (Eq. 2-3); ``meanpool`` and ``maxpool`` are the Table VI
baselines. Two readings of the "LSI x" row of Table II: ``cls_proj`` (default for that row) gives
AU n its own linear projection of the class token, so the N features differ and GDA has something
to weigh; ``none`` gives every AU the class token itself, which makes the N features equal, GDA's
attention A exactly uniform and W_d independent of the input (our reading; the paper does not say
what replaces LSI).
"""
from __future__ import annotations

import torch
from torch import nn

from .per_au import PerAULinear, per_au_mlp


class PatchTokenAttention(nn.Module):
    """Eq. 2-3 with an independent scoring MLP per AU: W_j = softmax_j(MLP_n(K_j)), F~_n = sum_j W_j K_j.

    ``grouped = False`` (default) scores AU after AU; ``True`` scores all AUs in one batched
    product with the same weights (the fast trainer's path).
    """

    def __init__(self, n_aus: int, width: int, hidden: int):
        super().__init__()
        self.hidden = PerAULinear(n_aus, width, hidden)
        # no bias on the last layer: softmax over tokens is invariant to a shared offset
        self.out = PerAULinear(n_aus, hidden, 1, bias=False)
        self.grouped = False

    def scores(self, region: torch.Tensor) -> torch.Tensor:
        """region K [B, N, L, d] -> MLP_n(K_{n,j}) [B, N, L] (the exponent of Eq. 2)."""
        return per_au_mlp(self.hidden, self.out, region, self.grouped).squeeze(-1)

    def forward(self, region: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """region [B, N, L, d], valid [N, L] -> (features F~ [B, N, d], weights W [B, N, L])."""
        scores = self.scores(region).masked_fill(~valid, float("-inf"))
        weights = torch.softmax(scores, dim=-1)  # Eq. 2
        return torch.einsum("bnl,bnld->bnd", weights, region), weights  # Eq. 3


class LocalAUFeatures(nn.Module):
    """Gathers each AU's region tokens (Table I via Eq. 1) and pools them independently."""

    def __init__(self, mode: str, n_aus: int, width: int, hidden: int):
        super().__init__()
        self.mode = mode
        self.pta = PatchTokenAttention(n_aus, width, hidden) if mode == "pta" else None
        self.cls_proj = PerAULinear(n_aus, width, width) if mode == "cls_proj" else None

    def forward(
        self,
        patch_tokens: torch.Tensor,  # [B, h*w, d]
        class_token: torch.Tensor,  # [B, d]
        token_index: torch.Tensor,  # [B, N, L] flat token index per AU landmark (Eq. 1)
        valid: torch.Tensor,  # [N, L]
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """-> AU features F~ [B, N, d] and token weights [B, N, L] (None if not attention)."""
        B, N, L = token_index.shape
        if self.mode == "none":
            return class_token.unsqueeze(1).expand(B, N, -1), None
        if self.mode == "cls_proj":  # AU n: class token @ W_n + b_n
            return self.cls_proj(class_token.unsqueeze(1).expand(B, N, -1)), None
        d = patch_tokens.shape[-1]
        flat = token_index.reshape(B, N * L, 1).expand(-1, -1, d)
        region = torch.gather(patch_tokens, 1, flat).reshape(B, N, L, d)  # K_{n,j}
        if self.mode == "meanpool":
            m = valid.to(region.dtype).view(1, N, L, 1)
            return (region * m).sum(2) / m.sum(2), None
        if self.mode == "maxpool":
            return region.masked_fill(~valid.view(1, N, L, 1), float("-inf")).amax(2), None
        return self.pta(region, valid)
