"""The modules the fast trainer calls per member: one training step's loss, the evaluation, and
the cached outputs of the frozen prefixes (visual per clip, text per distinct prompt).

Their parameter and buffer names are the ones ``torch.func.functional_call`` replaces with a
member's own tensors (``microau.train.members``).
"""
from __future__ import annotations

import torch
from torch import nn

from ..config import Config
from ..losses import total_loss
from ..model.micro_au_clip import MicroAUCLIP, gather_prompt_features
from .common import sentences_for
from .data import TrainData


class TextSource(nn.Module):
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
                self.register_buffer("prompt_prefix", model.text_prefix())  # the prompts' (evaluation)
        elif self.mode in ("miau", "local"):
            with torch.no_grad():
                self.register_buffer("prefix", model.text_prefix())


class StepRunner(nn.Module):
    """forward(prefix, landmarks, labels, rows) -> scalar loss of one member's batch (Eq. 12)."""

    def __init__(self, model: MicroAUCLIP, cfg: Config, text: TextSource):
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


OUTPUTS = ("logits", "au_features", "token_weights", "dependency", "attention")


class EvalRunner(nn.Module):
    """forward(prefix, landmarks) -> {name: tensor}: the model's outputs (``OUTPUTS`` that are not
    None) and, with a text tower, ``prompts`` (every AU's negative and positive prompt feature)."""

    def __init__(self, model: MicroAUCLIP, text: TextSource):
        super().__init__()
        self.model, self.text_source = model, text

    def forward(self, prefix, landmarks):
        out = self.model.forward_from_prefix(prefix, landmarks)
        values = {k: getattr(out, k) for k in OUTPUTS if getattr(out, k) is not None}
        if self.model.text is not None:
            src = self.text_source
            cache = src.prompt_prefix if src.mode == "global" else src.prefix
            values["prompts"] = self.model.prompt_features(prefix_cache=cache)
        return values


def visual_prefix_cache(model: MicroAUCLIP, images: torch.Tensor, chunk: int = 64) -> torch.Tensor:
    """Output of the frozen visual blocks for every clip, computed once."""
    with torch.no_grad():
        return torch.cat([model.visual.prefix(images[i : i + chunk]) for i in range(0, len(images), chunk)])
