"""A pretrained analogue for CPU runs: CLIP-style contrastive pretraining of a small open_clip model
on (flow image, sentence) pairs drawn from the phantom's motion model (see ``corpus``, ``render``,
``contrastive``, ``checkpoint``). Every number computed with it is "phantom, phantom-pretrained
backbone"."""
from .checkpoint import (PHANTOM_LABEL, PHANTOM_TAG, backbone_label, checkpoint_path, ensure_backbone,
                         ensure_backbones, pretrained_key, resolve_pretrained)
from .cli import register

__all__ = ["PHANTOM_LABEL", "PHANTOM_TAG", "backbone_label", "checkpoint_path", "ensure_backbone",
           "ensure_backbones", "pretrained_key", "resolve_pretrained", "register"]
