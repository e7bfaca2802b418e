"""The fast trainer: the same computation as ``microau.train.reference``, organised differently.

1. The frozen visual blocks are run once per clip and their output cached (one cache per
   backbone); each step runs only the trainable suffix, and its last block only at the tokens
   LSI reads (``MicroAUCLIP.use_sparse_last_block``).
2. The text side encodes only the distinct prompts (2N, or the distinct sentences of global
   OrigCL), on the truncated context, from a cached output of the frozen text blocks; samples
   gather their features.
3. Many models train at once (``microau.train.members``): the LOSO folds of a run, and the folds
   of runs that differ only by seed or backbone. Their tensors are stacked along a leading member
   axis and one ``torch.func.vmap``-ed step serves all of them. Members whose batch has the same
   size share one call; a member without a batch at a step (its epoch is shorter) is not updated.
   The SGD update is written out so that it equals ``torch.optim.SGD`` per member.
4. All tensors stay on the training device.

Each member's loss depends only on its own slice of the stacked tensors, so the gradient of the
summed loss with respect to a slice is exactly that member's gradient.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Callable

import numpy as np
import torch
from torch.func import functional_call, vmap
from torch.nn.attention import SDPBackend, sdpa_kernel

from ..config import Config
from ..model.micro_au_clip import MicroAUOutput
from .common import FoldResult, epoch_batches, lr_factor, outputs_to_fold_result
from .data import TrainData
from .members import Member, Stack, build_stack
from .precision import autocast
from .runners import visual_prefix_cache  # noqa: F401  (the fast trainer's prefix cache, imported from here)

# the math attention kernel has vmap batching rules; the fused CPU kernel would be looped over
_MATH = [SDPBackend.MATH]


def train_folds_fast(cfg: Config, data: TrainData, folds: list[int],
                     on_step: Callable[[float, int], None] | None = None,
                     prefix_cache: torch.Tensor | None = None, sparse: bool = True) -> list[FoldResult]:
    """Train the given LOSO folds of ``cfg`` together; returns one FoldResult per fold, in order."""
    return train_members([Member(cfg, f) for f in folds], data, on_step=on_step, prefix_cache=prefix_cache,
                         sparse=sparse)


def train_members(members: list[Member], data: TrainData, on_step: Callable[[float, int], None] | None = None,
                  prefix_cache: torch.Tensor | None = None, sparse: bool = True) -> list[FoldResult]:
    """Train ``members`` (LOSO folds of runs that differ only by seed and backbone) in one stack;
    returns each member's FoldResult on its held-out subject, in order."""
    stack = build_stack(members, data, prefix_cache=prefix_cache, sparse=sparse)
    epoch_loss = train_stack(stack, data, on_step=on_step)
    return evaluate_stack(stack, data, epoch_loss)


def train_stacked(cfg: Config, data: TrainData, train_rows: list[np.ndarray], seeds: list[int],
                  on_step: Callable[[float, int], None] | None = None,
                  prefix_cache: torch.Tensor | None = None):
    """Train one model of ``cfg`` per entry of ``train_rows`` (rows of ``data``) at once;
    ``seeds[k]`` is the fold number that fixes model k's batch order (see ``epoch_batches``).

    Returns (base model, stacked trainable parameters {name: [K, ...]}, text source, visual
    prefix cache, per-model epoch losses).
    """
    members = [Member(cfg, int(s), rows=np.asarray(r)) for r, s in zip(train_rows, seeds)]
    stack = build_stack(members, data, prefix_cache=prefix_cache)
    epoch_loss = train_stack(stack, data, on_step=on_step)
    stack.model.use_sparse_last_block(None)  # the model may be used on other clips (plain path)
    return stack.model, stack.trainable, stack.runner.text_source, stack.prefixes[0], epoch_loss


def _epoch_rows(stack: Stack, data: TrainData, train_rows: list[np.ndarray], epoch: int):
    """Every member's batches of one epoch as one array: rows [K, S, batch] (padded with 0) and
    sizes [K, S] (0 once a member's epoch is over)."""
    bs = stack.members[0].cfg.batch_size
    K = len(stack.members)
    steps = [-(-len(r) // bs) for r in train_rows]
    rows = np.zeros((K, max(steps), bs), dtype=np.int64)
    sizes = np.zeros((K, max(steps)), dtype=np.int64)
    for k, (m, r) in enumerate(zip(stack.members, train_rows)):
        order = np.concatenate(epoch_batches(len(r), bs, m.cfg.seed, m.fold, epoch))
        rows[k].reshape(-1)[: len(r)] = r[order]
        sizes[k, : steps[k]] = np.minimum(bs, len(r) - bs * np.arange(steps[k]))
    return rows, sizes, steps


def train_stack(stack: Stack, data: TrainData, on_step: Callable[[float, int], None] | None = None
                ) -> list[list[float]]:
    """Train every member of ``stack`` in place (its ``trainable`` tensors); returns each
    member's mean loss per epoch. ``on_step(mean loss, members)`` after each batched call."""
    cfg = stack.members[0].cfg  # the schedule is part of the shared computation
    runner = stack.runner

    def member_loss(params, prefix, landmarks, labels, rows):
        return functional_call(runner, params, (prefix, landmarks, labels, rows))

    batched_loss = sdpa_kernel(_MATH)(vmap(member_loss))
    device = stack.prefixes.device
    K = len(stack.members)
    train_rows = [m.train_rows(data) for m in stack.members]
    one_backbone = stack.prefixes.shape[0] == 1
    momentum_buf = {n: torch.zeros_like(v) for n, v in stack.trainable.items()} if cfg.momentum else None
    epoch_loss = [[] for _ in range(K)]
    for epoch in range(cfg.epochs):
        factor = lr_factor(cfg, epoch)
        rows_np, sizes, steps = _epoch_rows(stack, data, train_rows, epoch)
        rows_all = torch.as_tensor(rows_np, device=device)
        sums = torch.zeros(K, dtype=torch.float64, device=device)
        for step in range(rows_np.shape[1]):
            col = sizes[:, step]
            by_size = {int(n): np.flatnonzero(col == n) for n in np.unique(col[col > 0])}
            total = 0.0
            for n, members in by_size.items():
                every = len(members) == K  # the usual case: no gather copy of the tensors
                sel = slice(None) if every else torch.as_tensor(members, device=device)
                rows = rows_all[sel, step, :n]
                params = {**stack.trainable, **stack.frozen} if every else stack.member_tensors(sel)
                prefix = stack.prefixes[0][rows] if one_backbone else \
                    stack.prefixes[stack.backbone[sel].unsqueeze(1), rows]
                with autocast(cfg):
                    losses = batched_loss(params, prefix, data.landmarks[rows], data.labels[rows], rows)
                losses = losses.float() if losses.dtype in (torch.bfloat16, torch.float16) else losses
                total = total + losses.sum()  # the members' losses summed in (at least) float32
                values = losses.detach()
                if every:
                    sums += values
                else:
                    sums.index_add_(0, sel, values.to(sums.dtype))
                if on_step:
                    on_step(float(values.mean()), len(members))
            for v in stack.trainable.values():
                v.grad = None
            total.backward()
            active = None
            if sum(len(m) for m in by_size.values()) < K:  # some members have no batch: leave them
                active = torch.as_tensor(sizes[:, step] > 0, device=device)
            _masked_sgd_step(stack.trainable, momentum_buf, active, stack.lr, factor, cfg.momentum)
        means = (sums.cpu().numpy() / np.asarray(steps)).tolist()
        for k in range(K):
            epoch_loss[k].append(float(means[k]))
    return epoch_loss


def evaluate_stack(stack: Stack, data: TrainData, epoch_loss: list[list[float]]) -> list[FoldResult]:
    """Each member's outputs on its held-out subject (members of one fold in one batched call)."""
    cfg = stack.members[0].cfg
    subjects = data.fold_subjects
    device = stack.prefixes.device

    def member_eval(params, prefix, landmarks):
        return functional_call(stack.eval_runner, params, (prefix, landmarks))

    batched_eval = sdpa_kernel(_MATH)(vmap(member_eval, in_dims=(0, 0, None)))
    by_fold = defaultdict(list)
    for k, m in enumerate(stack.members):
        by_fold[m.fold].append(k)
    results: dict[int, FoldResult] = {}
    with torch.no_grad():
        for fold, ks in by_fold.items():
            test_idx = data.subject_index(subjects[fold], test=True)
            rows = torch.as_tensor(test_idx, device=device)
            sel = torch.as_tensor(ks, device=device)
            prefix = stack.prefixes[stack.backbone[sel].unsqueeze(1), rows.unsqueeze(0)]
            with autocast(cfg):
                values = batched_eval(stack.member_tensors(sel), prefix, data.landmarks[rows])
            for j, k in enumerate(ks):
                out = MicroAUOutput(**{name: values[name][j] if name in values else None
                                       for name in MicroAUOutput.__dataclass_fields__})
                prompts = values["prompts"][j] if "prompts" in values else None
                results[k] = outputs_to_fold_result(fold, subjects[fold], test_idx, out, prompts, epoch_loss[k])
    return [results[k] for k in range(len(stack.members))]


def _masked_sgd_step(stacked, momentum_buf, active, base_lr, factor, momentum) -> None:
    """torch.optim.SGD (no dampening, no weight decay, no Nesterov) for the active members only.

    ``active`` is a [K] bool mask, or None when every member takes the step (the same arithmetic
    without the masking, one multi-tensor call per learning rate).
    """
    with torch.no_grad():
        if active is None:
            for lr in sorted(set(base_lr.values())):
                names = [n for n in stacked if base_lr[n] == lr]
                params = [stacked[n] for n in names]
                grads = [stacked[n].grad if stacked[n].grad is not None else torch.zeros_like(stacked[n])
                         for n in names]
                if momentum_buf is not None:
                    bufs = [momentum_buf[n] for n in names]
                    torch._foreach_mul_(bufs, momentum)
                    torch._foreach_add_(bufs, grads)
                    grads = bufs
                torch._foreach_add_(params, grads, alpha=-lr * factor)
            return
        for n, p in stacked.items():
            grad = p.grad if p.grad is not None else torch.zeros_like(p)
            mask = active.view(-1, *[1] * (p.ndim - 1))
            if momentum_buf is not None:
                buf = momentum_buf[n]
                buf.copy_(torch.where(mask, buf * momentum + grad, buf))
                update = buf
            else:
                update = grad
            p.add_(update * mask.to(p.dtype), alpha=-base_lr[n] * factor)
