"""The members of one stacked training, and their tensors stacked along a leading member axis.

A member is one model to train: a config and a LOSO fold (or given training rows). Members may
differ by fold, by fine-tuning seed (``cfg.seed``) and by backbone (``cfg.pretrained``, ``cfg.backbone_seed``), as long
as they share the data and the module structure (:func:`computation_key`). Each keeps:

- its held-out subject and its batch order (``epoch_batches(cfg.seed, fold, epoch)``);
- its initial weights: the model built under its own ``cfg.seed`` and ``cfg.pretrained``;
- its frozen tensors: the visual prefix cache of its backbone, and every frozen parameter or
  buffer a training step reads that differs between the members' models (the text prefix cache,
  ``ln_post``, ``proj``, ``logit_scale``, ...), passed as stacked non-trainable inputs.

Frozen tensors equal in every model stay in the shared module; those only the frozen prefixes
read are never stacked (a step starts from the prefixes' cached outputs).
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field

import numpy as np
import torch

from ..config import Config
from ..losses import balanced_class_weights
from .common import build_model
from .data import TrainData
from .precision import configure_device
from .runners import EvalRunner, StepRunner, TextSource, visual_prefix_cache

# What may differ between the members of one stack; everything else of the config must be equal.
MEMBER_FIELDS = ("seed", "pretrained", "backbone_seed")
# Fields that never change the computation (names, placement of results, loss weights resolved below).
_NAMES = ("variant", "profile", "notes", "alpha", "beta")


@dataclass(frozen=True)
class Member:
    """One model of a stack: ``cfg`` and the LOSO ``fold`` whose subject it holds out; with
    ``rows`` given, it trains on those rows instead (and ``fold`` only fixes its batch order)."""

    cfg: Config
    fold: int
    rows: np.ndarray | None = field(default=None, compare=False)

    def train_rows(self, data: TrainData) -> np.ndarray:
        if self.rows is not None:
            return np.asarray(self.rows)
        return data.subject_index(data.fold_subjects[self.fold], test=False)


def computation_key(cfg: Config) -> str:
    """Equal for configs that may share a stack: the same computation up to seed and backbone."""
    values = {k: v for k, v in cfg.to_dict().items() if k not in MEMBER_FIELDS + _NAMES}
    values["loss_weights"] = cfg.loss_weights
    return hashlib.sha1(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:12]


def check_stackable(cfgs: list[Config]) -> None:
    keys = {computation_key(c) for c in cfgs}
    if len(keys) > 1:
        raise ValueError("members of one stack may differ only by " + " and ".join(MEMBER_FIELDS) +
                         f"; got {len(keys)} different computations")


@dataclass
class Stack:
    """The members' tensors, stacked: ``trainable`` (leaves with gradients) and ``frozen`` (the
    frozen tensors that differ between members), each {runner name: [K, ...]}; ``lr`` the base
    learning rate of each trainable name; ``prefixes`` [B, M, T, d] the visual prefix cache of
    each backbone and ``backbone`` [K] which one each member reads."""

    members: list[Member]
    runner: StepRunner
    eval_runner: EvalRunner
    trainable: dict[str, torch.Tensor]
    frozen: dict[str, torch.Tensor]
    lr: dict[str, float]
    prefixes: torch.Tensor
    backbone: torch.Tensor

    @property
    def model(self):
        return self.runner.model

    def member_tensors(self, k) -> dict[str, torch.Tensor]:
        """Member (or members, for an index tensor) ``k``'s trainable and frozen tensors."""
        return {n: v[k] for n, v in {**self.trainable, **self.frozen}.items()}


def _same(tensors: list[torch.Tensor]) -> bool:
    return all(t.shape == tensors[0].shape and torch.equal(t, tensors[0]) for t in tensors[1:])


def build_stack(members: list[Member], data: TrainData, prefix_cache: torch.Tensor | None = None,
                sparse: bool = True) -> Stack:
    """Build each member's model (once per distinct seed and backbone) and stack their tensors.

    ``prefix_cache`` is the visual prefix cache when every member has the same backbone (computed
    here otherwise). ``sparse``: the last visual block only where LSI reads it
    (``MicroAUCLIP.use_sparse_last_block``; exact).
    """
    cfgs = [m.cfg for m in members]
    check_stackable(cfgs)
    configure_device(cfgs[0])
    distinct: dict[tuple, int] = {}
    for c in cfgs:
        distinct.setdefault((c.seed, c.pretrained, c.backbone_seed), len(distinct))
    model_of = [distinct[(c.seed, c.pretrained, c.backbone_seed)] for c in cfgs]
    first_cfg = {i: cfgs[model_of.index(i)] for i in distinct.values()}
    runners, evals = [], []
    for i in range(len(distinct)):
        cfg = first_cfg[i]
        model = build_model(cfg, data.aus).to(cfg.device).use_fast_path()
        model.use_sparse_last_block(data.landmarks if sparse else None)
        text = TextSource(model, cfg, data)
        runners.append(StepRunner(model, cfg, text))
        evals.append(EvalRunner(model, text))

    # backbones: models whose visual prefixes are equal share one prefix cache
    prefix_names = sorted(runners[0].model.visual.prefix_names())
    backbone_of_model, reps = [], []
    for r in runners:
        state = dict(r.model.visual.named_parameters()) | dict(r.model.visual.named_buffers())
        match = next((b for b, rep in enumerate(reps)
                      if all(torch.equal(state[n], rep[n]) for n in prefix_names)), None)
        if match is None:
            reps.append(state)
            match = len(reps) - 1
            backbone_of_model.append(match)
        else:
            backbone_of_model.append(match)
    if prefix_cache is not None and len(reps) == 1:
        prefixes = prefix_cache.unsqueeze(0)
    else:
        first = [backbone_of_model.index(b) for b in range(len(reps))]
        prefixes = torch.stack([visual_prefix_cache(runners[i].model, data.images) for i in first])

    skip = {"model." + n for n in runners[0].model.prefix_names()}
    states = [dict(r.named_parameters()) | dict(r.named_buffers()) for r in runners]
    lr_of = {id(p): g["lr"] for g in runners[0].model.param_groups() for p in g["params"]}
    index = torch.as_tensor(model_of, device=prefixes.device)
    trainable, frozen, lr = {}, {}, {}
    for name, value in states[0].items():
        if name in skip:
            continue
        per_model = [s[name] for s in states]
        if isinstance(value, torch.nn.Parameter) and value.requires_grad:
            trainable[name] = torch.stack([t.detach() for t in per_model])[index].requires_grad_(True)
            lr[name] = lr_of[id(value)]
        elif not _same(per_model):
            frozen[name] = torch.stack([t.detach() for t in per_model])[index]
    if cfgs[0].class_weights == "balanced":  # Eq. 12 weighted per member, from its fold's training clips
        frozen["model.class_weights"] = torch.stack([
            balanced_class_weights(data.labels[torch.as_tensor(m.train_rows(data))].cpu())
            for m in members]).to(prefixes.device)
    backbone = torch.as_tensor([backbone_of_model[i] for i in model_of], device=prefixes.device)
    return Stack(members, runners[0], evals[0], trainable, frozen, lr, prefixes, backbone)


# ----------------------------------------------------------------------------- memory
DEFAULT_BUDGET_GB = 8.0


def stack_budget_bytes() -> float:
    """The memory a stack may take: ``$MICROAU_STACK_GB`` GB (default 8)."""
    return float(os.environ.get("MICROAU_STACK_GB") or DEFAULT_BUDGET_GB) * 2**30


def member_bytes(cfg: Config, data: TrainData) -> float:
    """An upper estimate of one member's memory in a stacked training step: its trainable
    parameters with their gradients and momentum (4 bytes each, 3 copies), plus activations of
    its trainable blocks (about 40 floats per token and width per block, a bound measured loosely
    on the quick and paper profiles' blocks), plus its own copy of the suffix's frozen tensors."""
    model = build_model(cfg, data.aus)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(t.numel() for n, t in list(model.named_parameters()) + list(model.named_buffers())
                 if not t.requires_grad and n not in model.prefix_names())
    vis = model.visual.visual
    tokens = 1 + model.visual.grid[0] * model.visual.grid[1]
    acts = cfg.batch_size * tokens * vis.transformer.width * cfg.visual_trainable_blocks
    if model.text is not None:
        ctx = model.text.context_needed(model.prompt_tokens)
        acts += 2 * len(model.aus) * ctx * model.text.transformer.width * cfg.text_trainable_blocks
    return 4.0 * (3 * trainable + frozen + 40 * acts)


def members_per_stack(cfg: Config, data: TrainData, budget: float | None = None) -> int:
    """How many members of ``cfg``'s computation fit in one stack (at least one)."""
    return max(1, int((budget or stack_budget_bytes()) // member_bytes(cfg, data)))
