"""CLIP-style contrastive pretraining of a small open_clip model on the phantom corpus.

Both towers are trained from random initialisation, every parameter, as CLIP is pretrained. Many
corpus sentences repeat (one AU alone is common), so a batch holds fewer distinct sentences than
images; the loss treats every image of a sentence as a positive of it (``clip_loss``).
"""
from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .corpus import CorpusSettings, draw_clips, make_identities, render_rng
from .render import render_flow_image

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PretrainSettings:
    """How the corpus is used. All fields enter the checkpoint's key."""

    corpus: CorpusSettings = CorpusSettings()
    # 'per_au': each image's positives are the sentences of its AUs (one per AU, the method's
    # prompts); 'whole': one sentence per image describing all its AUs (CLIP's caption pairing)
    targets: str = "per_au"
    # Passes over the corpus. One pass (160 steps) left the last block's patch tokens nearly equal
    # across tokens and clips, and the fine-tuned heads then predicted no AU; eight passes give
    # tokens that vary and a model above random init (the book's data chapter, "pretrained analogue").
    epochs: int = 8
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.1
    warmup_steps: int = 10
    seed: int = 0  # model initialisation and batch order
    # The image embedding pretraining matches to the sentences: 'tok' (CLIP's class token, the
    # default) or 'avg' (the mean of the patch tokens, open_clip's pool_type='avg'; tried for the
    # collapsed tokens above, it did not train within four passes).
    image_pool: str = "tok"

    def __post_init__(self):
        if self.targets not in ("per_au", "whole"):
            raise ValueError(f"targets must be 'per_au' or 'whole', got {self.targets!r}")
        if self.image_pool not in ("tok", "avg"):
            raise ValueError(f"image_pool must be 'tok' or 'avg', got {self.image_pool!r}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def clip_loss(image_features: torch.Tensor, text_features: torch.Tensor, sentence_index: torch.Tensor,
              logit_scale: torch.Tensor) -> torch.Tensor:
    """Symmetric CLIP contrastive loss with repeated sentences (our reading of CLIP's loss when
    captions repeat; the alternative, dropping repeats from a batch, wastes pairs).

    ``image_features`` [B, E], ``text_features`` [U, E] for the U distinct sentences of the batch,
    ``sentence_index`` [B]: which sentence describes image b. See ``multi_positive_clip_loss``.
    """
    positives = F.one_hot(sentence_index, text_features.shape[0]).bool()
    return multi_positive_clip_loss(image_features, text_features, positives, logit_scale)


def multi_positive_clip_loss(image_features: torch.Tensor, text_features: torch.Tensor,
                             positives: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """CLIP's symmetric contrastive loss when an image may have several true sentences.

    ``positives`` [B, U] bool: sentence u describes image b (every row and column has one).
    Image -> text: cross-entropy against the uniform distribution over the image's sentences.
    Text -> image: cross-entropy against the uniform distribution over the sentence's images.
    The two directions are averaged. With one sentence per image and distinct sentences this is
    CLIP's loss exactly.
    """
    img = F.normalize(image_features, dim=-1)
    txt = F.normalize(text_features, dim=-1)
    logits = logit_scale.exp() * img @ txt.t()  # [B, U]
    pos = positives.float()
    i2t = -((pos / pos.sum(1, keepdim=True)) * F.log_softmax(logits, dim=1)).sum(1).mean()
    pos_t = pos.t()
    t2i = -((pos_t / pos_t.sum(1, keepdim=True)) * F.log_softmax(logits.t(), dim=1)).sum(1).mean()
    return 0.5 * (i2t + t2i)


def render_corpus(settings: CorpusSettings, progress: bool = True,
                  targets: str = "whole") -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """All corpus pairs: uint8 flow images [M, S, S, 3] and, per image, its true sentences (one
    whole-motion sentence for ``targets='whole'``, one per AU for ``'per_au'``)."""
    from tqdm.auto import tqdm

    identities = make_identities(settings)
    images = np.zeros((settings.n_pairs, settings.crop_size, settings.crop_size, 3), np.uint8)
    sentences = []
    clips = draw_clips(settings, identities)
    for i, clip in enumerate(tqdm(clips, total=settings.n_pairs, desc="render corpus", unit="pair",
                                  disable=not progress)):
        images[i] = render_flow_image(clip, identities[clip.identity], render_rng(settings.seed, i), settings)
        sentences.append((clip.sentence,) if targets == "whole" else clip.au_sentences)
    return images, sentences


def _lr(settings: PretrainSettings, step: int, total: int) -> float:
    """Linear warm-up, then cosine decay to zero."""
    if step < settings.warmup_steps:
        return settings.lr * (step + 1) / settings.warmup_steps
    t = (step - settings.warmup_steps) / max(1, total - settings.warmup_steps)
    return settings.lr * 0.5 * (1.0 + math.cos(math.pi * t))


def pretrain_clip(clip_model: str, settings: PretrainSettings, progress: bool = True) -> tuple[dict, dict]:
    """Pretrain ``clip_model`` from random init on the corpus. Returns (state_dict, report)."""
    import open_clip
    from tqdm.auto import tqdm

    from ..model.backbone import TextTower, flow_images_to_tensor, load_clip

    t0, c0 = time.perf_counter(), time.process_time()
    images, sentences = render_corpus(settings.corpus, progress, settings.targets)
    t_render = time.perf_counter() - t0
    torch.manual_seed(settings.seed)
    clip = load_clip(clip_model, None)
    clip.visual.pool_type = settings.image_pool  # pretraining only: the checkpoint holds weights
    clip.train()
    text = TextTower(clip, trainable_blocks=len(clip.transformer.resblocks))
    vocab = sorted({s for true in sentences for s in true})
    tokens = open_clip.get_tokenizer(clip_model)(vocab)
    where = {s: k for k, s in enumerate(vocab)}
    truth = torch.zeros(len(sentences), len(vocab), dtype=torch.bool)  # [M, V]: sentence v is true of image m
    for m, true in enumerate(sentences):
        truth[m, [where[s] for s in true]] = True
    decay = [p for n, p in clip.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    other = [p for n, p in clip.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": settings.weight_decay},
                             {"params": other, "weight_decay": 0.0}], lr=settings.lr)
    order_rng = np.random.default_rng(settings.seed)
    n = len(sentences)
    batches = [order_rng.permutation(n)[i:i + settings.batch_size]
               for _ in range(settings.epochs) for i in range(0, n, settings.batch_size)]
    losses = []
    bar = tqdm(batches, desc=f"pretrain {clip_model}", unit="step", disable=not progress)
    for step, idx in enumerate(bar):
        for g in opt.param_groups:
            g["lr"] = _lr(settings, step, len(batches))
        idx = np.sort(idx)
        x = flow_images_to_tensor(images[idx])
        positives = truth[torch.as_tensor(idx)]
        used = positives.any(0)
        img_feat, _ = clip.visual(x)
        txt_feat = text(tokens[used])
        loss = multi_positive_clip_loss(img_feat, txt_feat, positives[:, used], clip.logit_scale)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            clip.logit_scale.clamp_(0, math.log(100))
        losses.append(float(loss.detach()))
        bar.set_postfix_str(f"loss {loss.item():.3f}", refresh=False)
    bar.close()
    report = {
        "clip_model": clip_model, "pairs": n, "distinct_sentences": len(vocab), "steps": len(batches),
        "targets": settings.targets,
        "loss_first": losses[0], "loss_last_10": float(np.mean(losses[-10:])),
        "render_s": round(t_render, 2), "total_s": round(time.perf_counter() - t0, 2),
        "cpu_s": round(time.process_time() - c0, 2),  # all threads; wall time on an idle machine
        "torch_threads": torch.get_num_threads(),
    }
    return clip.state_dict(), report

