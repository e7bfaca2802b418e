"""Pretraining several backbones at once: the seeds of a backbone spread (issue: backbone draws)
share the corpus and the architecture, so one ``torch.func.vmap``-ed step trains all of them.

Each seed keeps what ``contrastive.pretrain_clip`` gives it: its own initialisation (the model
built under its seed), its own batch order, its own AdamW state. Its parameters are one slice of
tensors stacked along a leading seed axis; its loss depends on its slice only, so the gradient of
the summed loss is, slice by slice, each seed's own gradient. The AdamW update is written out as
``torch.optim.AdamW``'s single-tensor update, elementwise, so each slice gets its own update.

Two things are organised differently from ``pretrain_clip``, with the same values:

- the transformer blocks run through ``microau.model.blocks.flat_block_forward`` (2-D products;
  ``tests/test_backbone.py`` checks it against open_clip's block);
- the text tower encodes, per step, the union of the sentences the seeds' batches use; each
  seed's loss masks the sentences its own batch does not use (:func:`masked_clip_loss`, equal to
  ``multi_positive_clip_loss`` on that seed's sentences).

``tests/test_pretrain.py`` checks that pretraining seeds together equals pretraining each alone
(float64).
"""
from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .contrastive import (LOCAL_AUS, PretrainSettings, _lr, corpus_arrays, local_au_loss, local_prompt_texts,
                          local_token_weights, nudge_by_ulps, pretrain_report)


def masked_clip_loss(image_features: torch.Tensor, text_features: torch.Tensor, positives: torch.Tensor,
                     used: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """``multi_positive_clip_loss`` over the sentences ``used`` [U] (bool) only: the others are
    out of both softmaxes and out of the text -> image mean. ``positives`` [B, U] is False outside
    ``used``. Same value as ``multi_positive_clip_loss(img, txt[used], positives[:, used], scale)``."""
    img = F.normalize(image_features, dim=-1)
    txt = F.normalize(text_features, dim=-1)
    logits = logit_scale.exp() * img @ txt.t()  # [B, U]
    pos = positives.float()  # as multi_positive_clip_loss
    log_i2t = F.log_softmax(logits.masked_fill(~used, float("-inf")), dim=1).masked_fill(~used, 0.0)
    i2t = -((pos / pos.sum(1, keepdim=True)) * log_i2t).sum(1).mean()
    pos_t = pos.t()
    t2i_rows = -((pos_t / pos_t.sum(1, keepdim=True).clamp_min(1)) * F.log_softmax(logits.t(), dim=1)).sum(1)
    t2i = t2i_rows.sum() / used.sum()
    return 0.5 * (i2t + t2i)


def batch_order(settings: PretrainSettings, n: int) -> list[np.ndarray]:
    """The batches of ``settings.seed``: the order ``pretrain_clip`` draws (kept equal to it;
    ``tests/test_pretrain.py`` compares the two trainers' results)."""
    order_rng = np.random.default_rng(settings.seed)
    return [order_rng.permutation(n)[i:i + settings.batch_size]
            for _ in range(settings.epochs) for i in range(0, n, settings.batch_size)]


def image_patches(images: np.ndarray, patch: int) -> torch.Tensor:
    """uint8 flow images [B, S, S, 3] -> CLIP-normalised patches [B, (S/p)^2, 3 p p], each in the
    layout of the patch convolution's weight (channel, row, column): the values of
    ``flow_images_to_tensor`` (the same operations, elementwise), cut into patches while still
    uint8 (a quarter of the bytes to move)."""
    from ..model.backbone import OPENAI_MEAN, OPENAI_STD

    x = torch.as_tensor(np.asarray(images))
    B, H, W, C = x.shape
    x = x.view(B, H // patch, patch, W // patch, patch, C).permute(0, 1, 3, 5, 2, 4)
    x = x.reshape(B, (H // patch) * (W // patch), C, patch * patch).float().div_(255.0)
    x = (x - torch.tensor(OPENAI_MEAN).view(1, 1, C, 1)) / torch.tensor(OPENAI_STD).view(1, 1, C, 1)
    return x.reshape(B, x.shape[1], C * patch * patch)


class _Step(nn.Module):
    """forward(patches, tokens, positives, used, weights, labels) -> one seed's (global, local)
    losses. ``tokens`` end with the local term's 2N prompts when ``local`` is on.

    Only ``clip`` is a submodule (``functional_call`` replaces ``clip.<name>``). The towers, kept
    out of the module tree, read ``clip``'s submodules; the two parameters the text tower holds
    itself (``positional_embedding``, ``text_projection``) are handed to it at each call."""

    def __init__(self, clip: nn.Module, image_pool: str, local: bool = False):
        super().__init__()
        self.local = local
        from ..model.backbone import TextTower, VisualTower

        self.clip = clip
        visual = VisualTower(clip, trainable_blocks=len(clip.visual.transformer.resblocks))
        text = TextTower(clip, trainable_blocks=len(clip.transformer.resblocks))
        visual.flat_blocks = text.flat_blocks = True
        self.__dict__["towers"] = (visual, text)
        self.image_pool = image_pool
        v = clip.visual
        if v.attn_pool is not None or getattr(v, "final_ln_after_pool", False) or v.conv1.bias is not None \
                or v.conv1.stride != v.conv1.kernel_size:
            raise ValueError("batched pretraining supports open_clip's plain ViT (patch convolution, token pooling)")

    def embeds(self, patches: torch.Tensor) -> torch.Tensor:
        """open_clip's ``VisionTransformer._embeds`` from :func:`image_patches`: the patch
        convolution (stride = kernel, no bias) as one product over the patches, the same sums
        (under vmap one batched product, not a grouped convolution over the seeds' images)."""
        v = self.clip.visual
        w = v.conv1.weight  # [width, 3, p, p]
        x = patches @ w.reshape(w.shape[0], -1).t()
        x = torch.cat([v.class_embedding.view(1, 1, -1).expand(x.shape[0], -1, -1).to(x.dtype), x], dim=1)
        return v.ln_pre(v.patch_dropout(x + v.positional_embedding.to(x.dtype)))

    def forward(self, patches, tokens, positives, used, weights, labels):
        from torch.func import functional_call

        visual, text = self.towers
        cls, patches = visual.suffix(self.embeds(patches))
        patches = patches.flatten(1, 2)
        pooled = cls if self.image_pool == "tok" else patches.mean(1)
        img = pooled @ self.clip.visual.proj
        own = {"positional_embedding": self.clip.positional_embedding,
               "text_projection": self.clip.text_projection}
        txt = functional_call(text, own, (tokens,), tie_weights=False)
        k = 2 * len(LOCAL_AUS) if self.local else 0
        sentences = txt[:txt.shape[0] - k]
        loss_global = masked_clip_loss(img, sentences, positives, used, self.clip.logit_scale)
        if not self.local:
            return loss_global, torch.zeros_like(loss_global)
        prompts = txt[txt.shape[0] - k:].view(len(LOCAL_AUS), 2, -1)
        return loss_global, local_au_loss(patches, weights, labels, self.clip.visual.proj, prompts,
                                          self.clip.logit_scale)


def _adamw_(params, grads, exp_avg, exp_avg_sq, decay, lr: float, step: int, weight_decay: float,
            betas=(0.9, 0.999), eps: float = 1e-8) -> None:
    """``torch.optim.AdamW`` (single-tensor, no amsgrad) on stacked tensors, every seed at once."""
    beta1, beta2 = betas
    bias_correction1 = 1 - beta1**step
    bias_correction2_sqrt = (1 - beta2**step) ** 0.5
    step_size = lr / bias_correction1
    with torch.no_grad():
        for n, p in params.items():
            g = grads[n]
            if decay[n]:
                p.mul_(1 - lr * weight_decay)
            exp_avg[n].lerp_(g, 1 - beta1)
            exp_avg_sq[n].mul_(beta2).addcmul_(g, g, value=1 - beta2)
            denom = (exp_avg_sq[n].sqrt() / bias_correction2_sqrt).add_(eps)
            p.addcdiv_(exp_avg[n], denom, value=-step_size)


def pretrain_clips(clip_model: str, settings: list[PretrainSettings], progress: bool = True
                   ) -> list[tuple[dict, dict]]:
    """Pretrain one ``clip_model`` per entry of ``settings`` (which differ only by seed) in one
    stacked training. Returns (state_dict, report) per entry, as ``pretrain_clip`` does."""
    import open_clip
    from tqdm.auto import tqdm
    from torch.func import functional_call, vmap
    from torch.nn.attention import SDPBackend, sdpa_kernel

    from ..model.backbone import load_clip
    from ..model.tokens import landmark_token_index

    shared = {dataclasses.replace(s, seed=0) for s in settings}
    if len(shared) != 1:
        raise ValueError("pretrain_clips trains settings that differ only by seed")
    first = settings[0]
    t0, c0 = time.perf_counter(), time.process_time()
    clips = []
    for s in settings:
        torch.manual_seed(s.seed)
        clips.append(load_clip(clip_model, None))
        nudge_by_ulps(clips[-1], s.init_ulps)
    size = int(clips[0].visual.image_size[0])
    corpus = corpus_arrays(first, size, progress)
    images, sentences = corpus.images, corpus.sentences
    t_render = time.perf_counter() - t0
    vocab = sorted({s for true in sentences for s in true})
    tokenizer = open_clip.get_tokenizer(clip_model)
    tokens = tokenizer(vocab)
    prompt_tokens = tokenizer(local_prompt_texts())
    where = {s: k for k, s in enumerate(vocab)}
    truth = torch.zeros(len(sentences), len(vocab), dtype=torch.bool)
    for m, true in enumerate(sentences):
        truth[m, [where[s] for s in true]] = True
    local = bool(first.local_weight)
    token_index = landmark_token_index(torch.as_tensor(corpus.landmarks), (size, size),
                                       tuple(clips[0].visual.grid_size))
    labels = torch.as_tensor(corpus.labels)

    step_module = _Step(clips[0], first.image_pool, local)
    patch = clips[0].visual.conv1.kernel_size[0]
    if images.shape[1] != clips[0].visual.image_size[0] or images.shape[1] % patch:
        raise ValueError(f"corpus images of {images.shape[1]} px for a {clips[0].visual.image_size} px model")
    names = [n for n, _ in clips[0].named_parameters()]
    per_clip = [dict(c.named_parameters()) for c in clips]
    # Only the token embedding's rows of tokens the corpus uses ever get a gradient; AdamW leaves
    # the other rows exactly as they are (zero moments: a zero update, and no weight decay in
    # that group), so the stack holds the used rows only and the tokens index them (the order of
    # ids is kept, so the end-of-text token stays the largest).
    ids = torch.unique(torch.cat([tokens, prompt_tokens]))
    compact = torch.full((int(ids.max()) + 1,), -1, dtype=torch.long)
    compact[ids] = torch.arange(len(ids))
    tokens, prompt_tokens = compact[tokens], compact[prompt_tokens]
    rows = {"token_embedding.weight": ids}
    params = {n: torch.stack([pc[n].detach()[rows[n]] if n in rows else pc[n].detach() for pc in per_clip])
              .requires_grad_(True) for n in names}
    decay = {n: per_clip[0][n].ndim >= 2 and "embedding" not in n for n in names}  # pretrain_clip's groups
    exp_avg = {n: torch.zeros_like(v) for n, v in params.items()}
    exp_avg_sq = {n: torch.zeros_like(v) for n, v in params.items()}

    def seed_loss(p, x, tok, positives, used, weights, labels):
        return functional_call(step_module, {f"clip.{n}": v for n, v in p.items()},
                               (x, tok, positives, used, weights, labels))

    batched = sdpa_kernel([SDPBackend.MATH])(vmap(seed_loss, in_dims=(0, 0, None, 0, 0, 0, 0)))
    n = len(sentences)
    orders = [batch_order(s, n) for s in settings]
    steps = len(orders[0])
    losses = [[] for _ in settings]
    parts = [[] for _ in settings]
    bar = tqdm(range(steps), desc=f"pretrain {clip_model} x{len(settings)} seeds", unit="step", disable=not progress)
    for step in bar:
        lr = _lr(first, step, steps)
        idx = [np.sort(o[step]) for o in orders]
        x = torch.stack([image_patches(images[i], patch) for i in idx]).to(params[names[0]].dtype)
        positives = torch.stack([truth[torch.as_tensor(i)] for i in idx])  # [S, B, V]
        used_any = positives.any(1).any(0)  # the union of the seeds' sentences
        positives = positives[:, :, used_any]
        used = positives.any(1)  # [S, U]
        tok = torch.cat([tokens[used_any], prompt_tokens]) if local else tokens[used_any]
        picked = [torch.as_tensor(i) for i in idx]
        weights = torch.stack([local_token_weights(token_index[r], x.shape[2]) for r in picked]).to(x.dtype)
        lab = torch.stack([labels[r] for r in picked])
        loss_global, loss_local = batched(params, x, tok, positives, used, weights, lab)
        loss = loss_global + first.local_weight * loss_local
        for v in params.values():
            v.grad = None
        loss.sum().backward()
        _adamw_(params, {k: v.grad for k, v in params.items()}, exp_avg, exp_avg_sq, decay, lr, step + 1,
                first.weight_decay)
        with torch.no_grad():
            params["logit_scale"].clamp_(0, math.log(100))
        for k, (v, g, lo) in enumerate(zip(loss.detach().tolist(), loss_global.detach().tolist(),
                                           loss_local.detach().tolist())):
            losses[k].append(float(v))
            parts[k].append((float(g), float(lo)))
        bar.set_postfix_str("loss " + " ".join(f"{v:.3f}" for v in loss.detach().tolist()), refresh=False)
    bar.close()
    out = []
    total, cpu = round(time.perf_counter() - t0, 2), round(time.process_time() - c0, 2)
    for k, (s, clip) in enumerate(zip(settings, clips)):
        state = clip.state_dict()
        for name in names:
            value = params[name][k].detach().clone()
            if name in rows:
                value = state[name].clone().index_copy_(0, rows[name], value)
            state[name] = value
        report = pretrain_report(clip_model, s, n, len(vocab), losses[k], parts[k], t_render, total, cpu)
        report["batched_seeds"] = [x.seed for x in settings]  # trained together: times are the batch's
        out.append((state, report))
    return out
