"""Emotion-label-free micro-expression recognition (Sec. III-E, Eq. 13).

Each 3-class emotion r is described by an AU set (``microau.aus.EMOTION_AUS``), restricted to
the AUs the model detects. Its label text for AU n is AU n's positive prompt if n belongs to the
set and the negative prompt otherwise. The score of r is the sum over AUs of the cosine
similarity between the sample's AU visual feature and that text; the prediction is the argmax.
No emotion label is used anywhere in training.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .aus import EMOTION3_CLASSES, EMOTION_AUS


def emotion_prompt_labels(aus: tuple[int, ...], classes: tuple[str, ...] = EMOTION3_CLASSES) -> torch.Tensor:
    """[R, N] 0/1: which prompt (negative 0 / positive 1) describes AU n under emotion r."""
    return torch.tensor([[int(a in EMOTION_AUS[r]) for a in aus] for r in classes])


def emotion_scores(au_features: torch.Tensor, prompt_feats: torch.Tensor, aus: tuple[int, ...],
                   classes: tuple[str, ...] = EMOTION3_CLASSES) -> torch.Tensor:
    """Eq. 13 scores: sum_n CS(F_n^V, LF_{n,r}^T). au_features [B, N, E], prompt_feats [N, 2, E]
    -> [B, R]; argmax over R is the predicted emotion."""
    choose = emotion_prompt_labels(aus, classes).to(prompt_feats.device)  # [R, N]
    n_index = torch.arange(len(aus), device=prompt_feats.device)
    label_text = prompt_feats[n_index.unsqueeze(0), choose]  # [R, N, E]
    v = F.normalize(au_features, dim=-1)
    t = F.normalize(label_text, dim=-1)
    return torch.einsum("bne,rne->br", v, t)


def predict_emotion(au_features: torch.Tensor, prompt_feats: torch.Tensor, aus: tuple[int, ...],
                    classes: tuple[str, ...] = EMOTION3_CLASSES) -> list[str]:
    scores = emotion_scores(au_features, prompt_feats, aus, classes)
    return [classes[i] for i in scores.argmax(1).tolist()]
