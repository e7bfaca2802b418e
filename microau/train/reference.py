"""The plain reference trainer: one fold at a time, the naive computation at every step.

Full visual forward (frozen blocks included) on every batch, every sample's prompts tokenised
and encoded on the full 77-position context, torch's SGD. It is slow on purpose: the fast
trainer (``microau.train.fast``) is tested against it.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ..config import Config
from ..losses import balanced_class_weights, total_loss
from .common import FoldResult, build_model, epoch_batches, lr_factor, outputs_to_fold_result, sentences_for
from .data import TrainData
from .precision import autocast, configure_device


def _text_features(model, cfg: Config, labels: torch.Tensor) -> torch.Tensor | None:
    if cfg.contrastive == "none":
        return None
    if cfg.contrastive == "global":
        tokens = model.tokenizer(sentences_for(model.aus, labels)).to(labels.device)
        return model.text(tokens, truncate=False)
    return model.sample_text_features_reference(labels)


def train_fold_reference(cfg: Config, data: TrainData, fold: int,
                         on_step: Callable[[float], None] | None = None) -> FoldResult:
    subject = data.fold_subjects[fold]
    train_idx = data.subject_index(subject, test=False)
    test_idx = data.subject_index(subject, test=True)
    configure_device(cfg)
    model = build_model(cfg, data.aus).to(cfg.device)
    if cfg.class_weights == "balanced":
        model.class_weights.copy_(balanced_class_weights(data.labels[torch.as_tensor(train_idx)].cpu()))
    groups = model.param_groups()
    base_lr = [g["lr"] for g in groups]
    opt = torch.optim.SGD(groups, lr=cfg.lr_other, momentum=cfg.momentum)
    scale = model.logit_scale.exp().detach()
    epoch_loss = []
    for epoch in range(cfg.epochs):
        for g, lr in zip(opt.param_groups, base_lr):
            g["lr"] = lr * lr_factor(cfg, epoch)
        losses = []
        for batch in epoch_batches(len(train_idx), cfg.batch_size, cfg.seed, fold, epoch):
            idx = torch.as_tensor(train_idx[batch], device=data.images.device)
            labels = data.labels[idx]
            with autocast(cfg):
                out = model(data.images[idx], data.landmarks[idx])
                parts = total_loss(cfg, out, labels, _text_features(model, cfg, labels), scale,
                                   model.class_weights)
            opt.zero_grad()
            parts.total.backward()
            opt.step()
            losses.append(float(parts.total.detach()))
            if on_step:
                on_step(losses[-1])
        epoch_loss.append(float(np.mean(losses)))
    model.eval()
    with torch.no_grad():
        idx = torch.as_tensor(test_idx, device=data.images.device)
        with autocast(cfg):
            out = model(data.images[idx], data.landmarks[idx])
            prompts = model.prompt_features() if model.text is not None else None
    return outputs_to_fold_result(fold, subject, test_idx, out, prompts, epoch_loss)
