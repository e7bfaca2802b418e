"""CLIP visual and text backbones (Sec. III-A) through open_clip, split at the frozen boundary.

The visual tower is cut into a frozen *prefix* (patch embedding and the first L-K blocks) and a
trainable *suffix* (the last K blocks and ``ln_post``). The trainer computes the prefix once per
clip and caches it; ``visual_tokens`` runs both halves and is the plain reference path.

The text tower is cut the same way. Prompts are short, and CLIP's text attention is causal, so
features read at the end-of-text token do not depend on the padding after it: running the tower
on the first ``n`` positions (``n`` = longest prompt) gives the same features as 77 positions.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .blocks import flat_block_forward, flat_block_forward_at, supports_flat_forward
from .configs import quiet_root_logger as _quiet_root_logger
from .configs import register_configs as _register_configs

log = logging.getLogger(__name__)


OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


def token_grid(cfg) -> tuple[int, int]:
    """The visual tower's patch grid (h, w) for the config's CLIP model (7 x 7 for ViT-B/32)."""
    import open_clip

    _register_configs()
    mc = open_clip.get_model_config(cfg.clip_model)
    if mc is None:
        raise ValueError(f"no open_clip config named {cfg.clip_model!r}")
    size = mc["vision_cfg"]["image_size"]
    patch = mc["vision_cfg"]["patch_size"]
    size = size if isinstance(size, (list, tuple)) else (size, size)
    patch = patch if isinstance(patch, (list, tuple)) else (patch, patch)
    return size[0] // patch[0], size[1] // patch[1]


def load_clip(model_name: str = "ViT-B-32", pretrained: str | None = "openai") -> nn.Module:
    """Create an open_clip CLIP model with the weights ``pretrained`` names.

    ``pretrained`` is an open_clip tag ('openai'), a path to a local checkpoint, or None/'none'
    for random initialisation (see :mod:`microau.model.weights`). Weights that cannot be had or
    do not fit raise :class:`~microau.model.weights.WeightsUnavailable` (one line) before the
    model is built. OpenAI's weights get the QuickGELU activation they were trained with.
    """
    from .weights import load_pretrained, weights_file_for

    _register_configs()
    import open_clip

    path, quick_gelu = weights_file_for(model_name, pretrained)
    if path is None:
        log.debug("CLIP %s with random initialisation (no pretrained weights)", model_name)
    with _quiet_root_logger():
        model = open_clip.create_model(model_name, pretrained=None, force_quick_gelu=quick_gelu)
    if not hasattr(model, "token_embedding"):
        raise ValueError(
            f"'{model_name}' is not a plain CLIP model (CustomTextCLIP/CoCa are not supported)"
        )
    model._microau_name = model_name
    if path is not None:
        load_pretrained(model, path)
        log.info("CLIP %s weights from %s%s", model_name, path, " (QuickGELU)" if quick_gelu else "")
    model.visual.output_tokens = True
    return model


def grid_size(clip: nn.Module) -> tuple[int, int]:
    gs = clip.visual.grid_size
    return (gs, gs) if isinstance(gs, int) else tuple(gs)


def freeze_for_finetuning(clip: nn.Module, visual_blocks: int, text_blocks: int) -> None:
    """Freeze everything but the last ``visual_blocks`` / ``text_blocks`` transformer blocks."""
    for p in clip.parameters():
        p.requires_grad_(False)
    for blocks, k in (
        (clip.visual.transformer.resblocks, visual_blocks),
        (clip.transformer.resblocks, text_blocks),
    ):
        if k > len(blocks):
            raise ValueError(f"asked to train {k} blocks but the tower has {len(blocks)}")
        for block in list(blocks)[len(blocks) - k :]:
            for p in block.parameters():
                p.requires_grad_(True)


def flow_images_to_tensor(images: np.ndarray | torch.Tensor, image_size: int = 224) -> torch.Tensor:
    """uint8 flow images [M, H, W, 3] -> CLIP-normalised float tensor [M, 3, S, S]."""
    x = torch.as_tensor(np.asarray(images))
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"flow images must be [M, H, W, 3], got {tuple(x.shape)}")
    x = x.permute(0, 3, 1, 2).float().div_(255.0)
    if x.shape[-2:] != (image_size, image_size):
        x = nn.functional.interpolate(x, size=(image_size, image_size), mode="bilinear",
                                      align_corners=False)
    mean = torch.tensor(OPENAI_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(OPENAI_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def _run_block(block: nn.Module, x: torch.Tensor, mask: torch.Tensor | None, flat: bool) -> torch.Tensor:
    if flat and supports_flat_forward(block):
        return flat_block_forward(block, x, mask)
    return block(x, attn_mask=mask)


class VisualTower(nn.Module):
    """The visual encoder cut after block L-K: ``prefix`` (frozen) and ``suffix`` (trainable)."""

    def __init__(self, clip: nn.Module, trainable_blocks: int):
        super().__init__()
        self.visual = clip.visual
        self.split = len(self.visual.transformer.resblocks) - trainable_blocks
        self.grid = grid_size(clip)
        self.flat_blocks = False  # fast path for the trainable blocks (see microau.model.blocks)

    def prefix(self, images: torch.Tensor) -> torch.Tensor:
        """Patch embedding, class token, positions, ln_pre, frozen blocks -> [B, 1+h*w, width]."""
        x = self.visual._embeds(images)
        for block in list(self.visual.transformer.resblocks)[: self.split]:
            x = block(x)
        return x

    def suffix(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Trainable blocks and ln_post -> (class token [B, d], patch tokens [B, h, w, d])."""
        for block in list(self.visual.transformer.resblocks)[self.split :]:
            x = _run_block(block, x, None, self.flat_blocks)
        x = self.visual.ln_post(x)
        h, w = self.grid
        return x[:, 0], x[:, 1:].reshape(x.shape[0], h, w, x.shape[-1])

    def prefix_names(self) -> set[str]:
        """Names (in this module) of the tensors only ``prefix`` reads: embeddings, ln_pre and
        the frozen blocks."""
        names = {n for n, _ in self.named_parameters()} | {n for n, _ in self.named_buffers()}
        n_blocks = len(self.visual.transformer.resblocks)
        suffix = tuple(f"visual.transformer.resblocks.{i}." for i in range(self.split, n_blocks)) + (
            "visual.ln_post.", "visual.proj", "visual.attn_pool", "visual.head")
        return {n for n in names if not n.startswith(suffix)}

    def suffix_at(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """``suffix`` read only at sequence positions ``keep`` [B, P] (0 is the class token) ->
        [B, P, d], after ln_post. The last block computes its queries, attention output and MLP
        only there (``flat_block_forward_at``); the blocks before it, whose output every position
        of the next block reads, run in full. Same values as ``suffix`` at those positions."""
        blocks = list(self.visual.transformer.resblocks)[self.split :]
        for block in blocks[:-1]:
            x = _run_block(block, x, None, self.flat_blocks)
        at = keep.unsqueeze(-1).expand(*keep.shape, x.shape[-1])
        if blocks and supports_flat_forward(blocks[-1]):
            x = flat_block_forward_at(blocks[-1], x, keep)
        else:
            x = torch.gather(blocks[-1](x) if blocks else x, 1, at)
        return self.visual.ln_post(x)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.suffix(self.prefix(images))

    def project(self, features: torch.Tensor) -> torch.Tensor:
        """Map width-d features into CLIP's joint space (``visual.proj``)."""
        return features @ self.visual.proj


class TextTower(nn.Module):
    """The text encoder cut after block L-K, with exact context truncation."""

    def __init__(self, clip: nn.Module, trainable_blocks: int):
        super().__init__()
        self.token_embedding = clip.token_embedding
        self.positional_embedding = clip.positional_embedding
        self.transformer = clip.transformer
        self.ln_final = clip.ln_final
        self.text_projection = clip.text_projection
        self.register_buffer("attn_mask", clip.attn_mask, persistent=False)
        self.split = len(self.transformer.resblocks) - trainable_blocks
        self.flat_blocks = False  # fast path for the trainable blocks (see microau.model.blocks)
        # fast path: the last block only at the end-of-text positions, the only ones pooled
        self.sparse_last_block = False
        if getattr(clip, "text_pool_type", "argmax") != "argmax":
            raise ValueError("only CLIP text towers pooled at the end-of-text token are supported")

    @staticmethod
    def context_needed(tokens: torch.Tensor) -> int:
        """Positions up to and including the last end-of-text token (the largest token id)."""
        return int(tokens.argmax(dim=-1).max().item()) + 1

    def prefix(self, tokens: torch.Tensor, n_ctx: int | None = None) -> torch.Tensor:
        """Embeddings and frozen blocks on the first ``n_ctx`` positions -> [P, n_ctx, width]."""
        n = tokens.shape[1] if n_ctx is None else n_ctx
        x = self.token_embedding(tokens[:, :n]) + self.positional_embedding[:n]
        mask = self.attn_mask[:n, :n]
        for block in list(self.transformer.resblocks)[: self.split]:
            x = block(x, attn_mask=mask)
        return x

    def prefix_names(self) -> set[str]:
        """Names (in this module) of the tensors only ``prefix`` reads: the embeddings and the
        frozen blocks."""
        frozen = tuple(f"transformer.resblocks.{i}." for i in range(self.split))
        names = {n for n, _ in self.named_parameters()} | {n for n, _ in self.named_buffers()}
        return {n for n in names if n.startswith(frozen + ("token_embedding.", "positional_embedding"))}

    def suffix(self, x: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Trainable blocks, ln_final, end-of-text pooling and projection -> [P, embed]."""
        n = x.shape[1]
        mask = self.attn_mask[:n, :n]
        blocks = list(self.transformer.resblocks)[self.split :]
        eot = tokens[:, :n].argmax(dim=-1)
        if self.sparse_last_block and blocks and supports_flat_forward(blocks[-1]):
            for block in blocks[:-1]:
                x = _run_block(block, x, mask, self.flat_blocks)
            pooled = self.ln_final(flat_block_forward_at(blocks[-1], x, eot.unsqueeze(1), mask)[:, 0])
        else:
            for block in blocks:
                x = _run_block(block, x, mask, self.flat_blocks)
            x = self.ln_final(x)
            pooled = x[torch.arange(x.shape[0], device=x.device), eot]
        if isinstance(self.text_projection, nn.Linear):
            return self.text_projection(pooled)
        return pooled @ self.text_projection

    def forward(self, tokens: torch.Tensor, truncate: bool = True) -> torch.Tensor:
        n = self.context_needed(tokens) if truncate else tokens.shape[1]
        return self.suffix(self.prefix(tokens, n), tokens)
