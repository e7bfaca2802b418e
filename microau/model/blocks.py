"""open_clip's residual attention block, computed with 2-D matrix products only.

``nn.MultiheadAttention`` applies its input projection to a [L, B, d] tensor. Under
``torch.func.vmap`` (the fast trainer stacks LOSO folds on a leading axis) the weight gradient
of that projection is formed as one outer product per (fold, token) and summed afterwards: on
CPU that alone took more than a third of a quick-profile training step. ``flat_block_forward``
computes the same block with every projection applied to a [B*L, d] matrix, so each fold's
weight gradient is a single matrix product. It reads the block's own parameters, so it trains
exactly the parameters ``block.forward`` would. ``tests/test_backbone.py`` checks that both agree.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def supports_flat_forward(block: nn.Module) -> bool:
    """True for the plain self-attention block of open_clip's ViT and text transformers."""
    attn = getattr(block, "attn", None)
    return (
        isinstance(attn, nn.MultiheadAttention)
        and attn.batch_first
        and attn.in_proj_weight is not None
        and attn.bias_k is None
        and not attn.add_zero_attn
        and attn.dropout == 0.0
        and not hasattr(block, "ln_1_kv")
        and all(hasattr(block, n) for n in ("ln_1", "ln_2", "ls_1", "ls_2", "mlp"))
    )


def flat_block_forward(block: nn.Module, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Same result as ``block(x, attn_mask=attn_mask)``; x [B, L, d] (batch first)."""
    B, L, d = x.shape
    attn: nn.MultiheadAttention = block.attn
    heads = attn.num_heads
    h = block.ln_1(x).reshape(B * L, d)
    qkv = F.linear(h, attn.in_proj_weight, attn.in_proj_bias)
    q, k, v = qkv.view(B, L, 3, heads, d // heads).permute(2, 0, 3, 1, 4).unbind(0)  # [B, H, L, hd]
    mask = attn_mask.to(x.dtype) if attn_mask is not None else None
    a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=0.0)
    a = a.transpose(1, 2).reshape(B * L, d)
    a = F.linear(a, attn.out_proj.weight, attn.out_proj.bias).view(B, L, d)
    x = x + block.ls_1(a)
    m = block.mlp(block.ln_2(x).reshape(B * L, d)).view(B, L, d)
    return x + block.ls_2(m)


def flat_block_forward_at(block: nn.Module, x: torch.Tensor, keep: torch.Tensor,
                          attn_mask: torch.Tensor | None = None) -> torch.Tensor:
    """``block(x, attn_mask)`` read only at positions ``keep`` [B, P]: x [B, L, d] -> [B, P, d].

    Keys and values come from every position, as in the full block; the queries, the attention
    output, the residuals and the MLP are computed at the kept positions only (with the mask's
    rows of those positions). Exact for a block whose output is read only there (the last
    trainable block of a tower; an earlier block's output is needed everywhere).
    """
    B, L, d = x.shape
    attn: nn.MultiheadAttention = block.attn
    heads = attn.num_heads
    w, b = attn.in_proj_weight, attn.in_proj_bias
    h = block.ln_1(x)
    kv = F.linear(h.reshape(B * L, d), w[d:], None if b is None else b[d:])
    k, v = kv.view(B, L, 2, heads, d // heads).permute(2, 0, 3, 1, 4).unbind(0)  # [B, H, L, hd]
    at = keep.unsqueeze(-1).expand(B, keep.shape[1], d)
    P = keep.shape[1]
    q = F.linear(torch.gather(h, 1, at).reshape(B * P, d), w[:d], None if b is None else b[:d])
    q = q.view(B, P, heads, d // heads).transpose(1, 2)  # [B, H, P, hd]
    mask = attn_mask[keep].unsqueeze(1).to(x.dtype) if attn_mask is not None else None  # [B, 1, P, L]
    a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=0.0)
    a = F.linear(a.transpose(1, 2).reshape(B * P, d), attn.out_proj.weight, attn.out_proj.bias).view(B, P, d)
    y = torch.gather(x, 1, at) + block.ls_1(a)
    m = block.mlp(block.ln_2(y).reshape(B * P, d)).view(B, P, d)
    return y + block.ls_2(m)
