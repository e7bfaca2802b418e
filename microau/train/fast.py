"""The fast trainer: the same computation as ``microau.train.reference``, organised differently.

1. The frozen visual blocks are run once per clip and their output cached (``VisualTower.prefix``);
   each step runs only the trainable suffix.
2. The text side encodes only the distinct prompts (2N, or the distinct sentences of global
   OrigCL), on the truncated context, from a cached output of the frozen text blocks; samples
   gather their features.
3. Several LOSO folds train at once: their trainable parameters are stacked along a leading fold
   axis and one ``torch.func.vmap``-ed step serves all of them. Folds whose batch has the same size
   share one call; a fold without a batch at a step (its epoch is shorter) is not updated.
   The SGD update is written out so that it equals ``torch.optim.SGD`` per fold.
4. All tensors stay on the training device.

Each fold's loss depends only on its own parameter slice, so the gradient of the summed loss with
respect to a slice is exactly that fold's gradient.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, vmap
from torch.nn.attention import SDPBackend, sdpa_kernel

from ..config import Config
from ..losses import balanced_class_weights, total_loss
from ..model.micro_au_clip import MicroAUCLIP, gather_prompt_features
from .common import FoldResult, build_model, epoch_batches, lr_factor, outputs_to_fold_result, sentences_for
from .data import TrainData
from .precision import autocast, configure_device


class _TextSource(nn.Module):
    """Text features per sample from cached frozen-block outputs of the distinct texts."""

    def __init__(self, model: MicroAUCLIP, cfg: Config, data: TrainData):
        super().__init__()
        self.mode = cfg.contrastive
        if self.mode == "global":
            sentences = sentences_for(data.aus, data.labels.cpu())
            distinct = sorted(set(sentences))
            where = {s: i for i, s in enumerate(distinct)}
            tokens = model.tokenizer(distinct).to(data.labels.device)
            self.register_buffer("tokens", tokens)
            self.register_buffer("sample_sentence", torch.tensor([where[s] for s in sentences],
                                                                 device=data.labels.device))
            with torch.no_grad():
                self.register_buffer("prefix", model.text.prefix(tokens, model.text.context_needed(tokens)))
        elif self.mode in ("miau", "local"):
            with torch.no_grad():
                self.register_buffer("prefix", model.text_prefix())


class _StepRunner(nn.Module):
    """forward(prefix, landmarks, labels, rows) -> scalar loss of one fold's batch (Eq. 12)."""

    def __init__(self, model: MicroAUCLIP, cfg: Config, text: _TextSource):
        super().__init__()
        self.model, self.cfg, self.text_source = model, cfg, text
        self.register_buffer("scale", model.logit_scale.exp().detach())

    def text_features(self, labels, rows):
        m, src = self.model, self.text_source
        if src.mode in ("miau", "local"):
            return gather_prompt_features(m.prompt_features(prefix_cache=src.prefix), labels)
        if src.mode == "global":
            return m.text.suffix(src.prefix, src.tokens)[src.sample_sentence[rows]]
        return None

    def forward(self, prefix, landmarks, labels, rows):
        out = self.model.forward_from_prefix(prefix, landmarks)
        return total_loss(self.cfg, out, labels, self.text_features(labels, rows), self.scale,
                          self.model.class_weights).total


class _EvalRunner(nn.Module):
    def __init__(self, model: MicroAUCLIP, text: _TextSource):
        super().__init__()
        self.model, self.text_source = model, text

    def forward(self, prefix, landmarks):
        out = self.model.forward_from_prefix(prefix, landmarks)
        prompts = None
        if self.model.text is not None:
            cache = self.text_source.prefix if self.text_source.mode in ("miau", "local") else None
            prompts = self.model.prompt_features(prefix_cache=cache)
        return out, prompts


def visual_prefix_cache(model: MicroAUCLIP, images: torch.Tensor, chunk: int = 64) -> torch.Tensor:
    """Output of the frozen visual blocks for every clip, computed once."""
    with torch.no_grad():
        return torch.cat([model.visual.prefix(images[i : i + chunk]) for i in range(0, len(images), chunk)])


def train_folds_fast(cfg: Config, data: TrainData, folds: list[int],
                     on_step: Callable[[float, int], None] | None = None,
                     prefix_cache: torch.Tensor | None = None) -> list[FoldResult]:
    """Train the given LOSO folds together; returns one FoldResult per fold, in order."""
    subjects = data.fold_subjects
    train_rows = [data.subject_index(subjects[f], test=False) for f in folds]
    model, stacked, text, prefix_all, epoch_loss = train_stacked(
        cfg, data, train_rows, folds, on_step=on_step, prefix_cache=prefix_cache)
    eval_runner = _EvalRunner(model, text)
    results = []
    with torch.no_grad():
        for k, f in enumerate(folds):
            test_idx = data.subject_index(subjects[f], test=True)
            rows = torch.as_tensor(test_idx, device=prefix_all.device)
            params = {n: v[k] for n, v in stacked.items()}
            with autocast(cfg):
                out, prompts = functional_call(eval_runner, params, (prefix_all[rows], data.landmarks[rows]))
            results.append(outputs_to_fold_result(f, subjects[f], test_idx, out, prompts, epoch_loss[k]))
    return results


def train_stacked(cfg: Config, data: TrainData, train_rows: list[np.ndarray], seeds: list[int],
                  on_step: Callable[[float, int], None] | None = None,
                  prefix_cache: torch.Tensor | None = None):
    """Train one model per entry of ``train_rows`` (rows of ``data``) at once.

    ``seeds[k]`` is the fold number that fixes model k's batch order (see ``epoch_batches``).
    Returns (base model, stacked trainable parameters {name: [K, ...]}, text source, visual
    prefix cache, per-model epoch losses).
    """
    configure_device(cfg)
    model = build_model(cfg, data.aus).to(cfg.device).use_fast_path()
    prefix_all = prefix_cache if prefix_cache is not None else visual_prefix_cache(model, data.images)
    text = _TextSource(model, cfg, data)
    runner = _StepRunner(model, cfg, text)

    lr_of = {id(p): g["lr"] for g in model.param_groups() for p in g["params"]}
    names = [n for n, p in runner.named_parameters() if p.requires_grad]
    base = dict(runner.named_parameters())
    K = len(train_rows)
    stacked = {n: base[n].detach().unsqueeze(0).repeat(K, *[1] * base[n].ndim).requires_grad_(True)
               for n in names}
    base_lr = {n: lr_of[id(base[n])] for n in names}
    momentum_buf = {n: torch.zeros_like(v) for n, v in stacked.items()} if cfg.momentum else None
    # per-model tensors that are not trained but differ between models: the class weights of each
    # model's training clips (Eq. 12 under cfg.class_weights='balanced'; ones otherwise)
    device = prefix_all.device
    per_model = {"model.class_weights": torch.stack([
        balanced_class_weights(data.labels[torch.as_tensor(r)].cpu()) if cfg.class_weights == "balanced"
        else torch.ones(len(data.aus), 2) for r in train_rows]).to(device)}

    def fold_loss(params, prefix, landmarks, labels, rows):
        return functional_call(runner, params, (prefix, landmarks, labels, rows))

    # the math attention kernel has vmap batching rules; the fused CPU kernel would be looped over
    batched_loss = sdpa_kernel([SDPBackend.MATH])(vmap(fold_loss))
    train_idx = [torch.as_tensor(r, device=device) for r in train_rows]
    epoch_loss = [[] for _ in range(K)]
    for epoch in range(cfg.epochs):
        factor = lr_factor(cfg, epoch)
        batches = [epoch_batches(len(train_idx[k]), cfg.batch_size, cfg.seed, seeds[k], epoch)
                   for k in range(K)]
        sums = np.zeros(K)
        for step in range(max(len(b) for b in batches)):
            by_size = defaultdict(list)
            for k, b in enumerate(batches):
                if step < len(b):
                    by_size[len(b[step])].append(k)
            total = 0.0
            for members in by_size.values():
                sel = torch.as_tensor(members, device=device)
                rows = torch.stack([train_idx[k][torch.as_tensor(batches[k][step], device=device)]
                                    for k in members])
                # all models in one group (the usual case): no gather copy of the parameters
                params = stacked if len(members) == K else {n: v[sel] for n, v in stacked.items()}
                params = {**params, **({n: v for n, v in per_model.items()} if len(members) == K
                                       else {n: v[sel] for n, v in per_model.items()})}
                with autocast(cfg):
                    losses = batched_loss(params, prefix_all[rows], data.landmarks[rows], data.labels[rows], rows)
                if losses.dtype in (torch.bfloat16, torch.float16):  # sum the folds' losses in float32
                    losses = losses.float()
                total = total + losses.sum()
                values = losses.detach().cpu().numpy()
                sums[members] += values
                if on_step:
                    for v in values:
                        on_step(float(v), 1)
            for v in stacked.values():
                v.grad = None
            total.backward()
            members_now = [k for m in by_size.values() for k in m]
            active = None
            if len(members_now) < K:  # some folds have no batch at this step: leave them as they are
                active = torch.zeros(K, dtype=torch.bool, device=device)
                active[members_now] = True
            _masked_sgd_step(stacked, momentum_buf, active, base_lr, factor, cfg.momentum)
        for k in range(K):
            epoch_loss[k].append(float(sums[k] / len(batches[k])))
    return model, stacked, text, prefix_all, epoch_loss


def _masked_sgd_step(stacked, momentum_buf, active, base_lr, factor, momentum) -> None:
    """torch.optim.SGD (no dampening, no weight decay, no Nesterov) for the active folds only.

    ``active`` is a [K] bool mask, or None when every fold takes the step (the same arithmetic
    without the masking).
    """
    with torch.no_grad():
        for n, p in stacked.items():
            grad = p.grad if p.grad is not None else torch.zeros_like(p)
            lr = -base_lr[n] * factor
            if active is None:
                if momentum_buf is not None:
                    momentum_buf[n].mul_(momentum).add_(grad)
                    grad = momentum_buf[n]
                p.add_(grad, alpha=lr)
                continue
            mask = active.view(-1, *[1] * (p.ndim - 1))
            if momentum_buf is not None:
                buf = momentum_buf[n]
                buf.copy_(torch.where(mask, buf * momentum + grad, buf))
                update = buf
            else:
                update = grad
            p.add_(update * mask.to(p.dtype), alpha=lr)
