"""CLIP-style contrastive pretraining of a small open_clip model on the phantom corpus.

Both towers are trained from random initialisation, every parameter, as CLIP is pretrained. Many
corpus sentences repeat (one AU alone is common), so a batch holds fewer distinct sentences than
images; the loss treats every image of a sentence as a positive of it (``clip_loss``).

With ``PretrainSettings.local_weight > 0`` a local term is added (:func:`local_au_loss`): each
AU's patch tokens at its Table I landmarks, averaged, are matched to that AU's two prompts. CLIP's
global loss alone trains the class token and leaves the patch tokens, which the method reads
(Eq. 1-3), nearly uninformative on this corpus (the sweep of ``benchmarks/bench_testbed.py``: the
full model trained on a backbone pretrained without it scores far lower). This is our pretraining choice, not the paper's: the
paper fine-tunes OpenAI's CLIP, pretrained on web captions.
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

from .corpus import UNIFORM_AUS, CorpusSettings, draw_clips, make_identities, render_rng
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
    # Weight of the local AU term (:func:`local_au_loss`) next to the global contrastive loss; 0
    # gives CLIP's loss alone (the backbones before issue 22).
    local_weight: float = 1.0
    # The rerun check (benchmarks/bench_testbed.py): after initialisation, move one weight (the
    # first of the patch embedding) by this many units in the last place, a change of the size
    # another CPU's rounding makes. 0: none (every backbone the book uses).
    init_ulps: int = 0

    def __post_init__(self):
        if self.targets not in ("per_au", "whole"):
            raise ValueError(f"targets must be 'per_au' or 'whole', got {self.targets!r}")
        if self.image_pool not in ("tok", "avg"):
            raise ValueError(f"image_pool must be 'tok' or 'avg', got {self.image_pool!r}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.local_weight < 0:
            raise ValueError(f"local_weight must be >= 0, got {self.local_weight}")

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


LOCAL_AUS = UNIFORM_AUS  # the AUs the local term reads (every AU the corpus moves)


def local_token_weights(token_index: torch.Tensor, n_tokens: int) -> torch.Tensor:
    """[B, N, 68] token index of every landmark (Eq. 1) -> [B, N, T] averaging weights: row n
    of clip b averages the patch tokens at AU ``LOCAL_AUS[n]``'s Table I landmarks (Eq. 3 with
    uniform weights; a token two landmarks fall into counts twice)."""
    from ..aus import AU_LANDMARKS

    B = token_index.shape[0]
    out = torch.zeros(B, len(LOCAL_AUS), n_tokens, dtype=torch.float64)
    for n, au in enumerate(LOCAL_AUS):
        where = token_index[:, list(AU_LANDMARKS[au])]  # [B, L]
        out[:, n].scatter_add_(1, where, torch.full(where.shape, 1.0 / where.shape[1], dtype=torch.float64))
    return out


def local_au_loss(patch_tokens: torch.Tensor, weights: torch.Tensor, labels: torch.Tensor, proj: torch.Tensor,
                  prompt_features: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """The local pretraining term (our choice; see the module docstring).

    ``patch_tokens`` [B, T, d] (after ln_post), ``weights`` [B, N, T] (:func:`local_token_weights`),
    ``labels`` [B, N] in {0, 1}, ``proj`` the visual projection [d, E], ``prompt_features``
    [N, 2, E] (the text tower's features of AU n's negative and positive prompt, Eq. 7-8's
    prompts), ``logit_scale`` CLIP's log temperature. Each AU's averaged token, projected and
    normalised, is scored against its two normalised prompts (scaled cosine) and the two-way
    cross-entropy is averaged over AUs and clips (Eq. 12's form, at the pretraining stage).
    """
    feats = F.normalize(torch.bmm(weights.to(patch_tokens.dtype), patch_tokens) @ proj, dim=-1)  # [B, N, E]
    prompts = F.normalize(prompt_features, dim=-1)
    logits = logit_scale.exp() * torch.einsum("bne,nke->bnk", feats, prompts)
    return F.cross_entropy(logits.reshape(-1, 2), labels.reshape(-1))


def local_prompt_texts() -> list[str]:
    """The 2N prompts of the local term, AU by AU: negative then positive (label 0 then 1)."""
    from ..aus import au_prompt

    return [au_prompt(au, positive) for au in LOCAL_AUS for positive in (False, True)]


@dataclass
class CorpusArrays:
    """The rendered corpus at the model's input side: uint8 flow images [M, S, S, 3], landmarks
    [M, 68, 2] in their pixels, AU labels [M, N] over ``LOCAL_AUS``, per clip its true sentences."""

    images: np.ndarray
    landmarks: np.ndarray
    labels: np.ndarray
    sentences: list[tuple[str, ...]]


def corpus_arrays(settings: PretrainSettings, image_size: int, progress: bool = True) -> CorpusArrays:
    """Render the corpus and bring it to ``image_size`` (area-averaged, the landmarks scaled with
    it: the preparation renders at the crop size, the model reads its own input size)."""
    import cv2
    from tqdm.auto import tqdm

    from ..prep.flow import flow_to_image
    from .render import render_flow

    cs = settings.corpus
    identities = make_identities(cs)
    m = cs.n_pairs
    images = np.zeros((m, image_size, image_size, 3), np.uint8)
    landmarks = np.zeros((m, 68, 2), np.float32)
    labels = np.zeros((m, len(LOCAL_AUS)), np.int64)
    sentences = []
    scale = image_size / cs.crop_size
    for i, clip in enumerate(tqdm(draw_clips(cs, identities), total=m, desc="render corpus", unit="pair",
                                  disable=not progress)):
        flow, lm = render_flow(clip, identities[clip.identity], render_rng(cs.seed, i), cs)
        image = flow_to_image(flow, cs.flow_scale)
        if image_size != cs.crop_size:
            image = cv2.resize(image, (image_size, image_size), interpolation=cv2.INTER_AREA)
        images[i], landmarks[i] = image, lm * scale
        labels[i] = [int(a in clip.aus) for a in LOCAL_AUS]
        sentences.append((clip.sentence,) if settings.targets == "whole" else clip.au_sentences)
    return CorpusArrays(images, landmarks, labels, sentences)


def plateau_check(losses: list[float], window: float = 0.1, tolerance: float = 0.02) -> dict:
    """Whether a loss curve has levelled off: the mean of its last ``window`` share of steps
    against the share before it. ``flat`` when it fell by less than ``tolerance`` (relative)."""
    k = max(1, int(len(losses) * window))
    last, before = float(np.mean(losses[-k:])), float(np.mean(losses[-2 * k:-k] or losses[-k:]))
    drop = (before - last) / max(abs(before), 1e-12)
    return {"window_steps": k, "mean_before": before, "mean_last": last, "relative_drop": drop,
            "flat": bool(drop < tolerance)}


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


def nudge_by_ulps(clip, ulps: int) -> None:
    """Move the first element of ``clip``'s patch-embedding weight ``ulps`` representable values up
    (``torch.nextafter``): the rerun check's rounding-size perturbation."""
    with torch.no_grad():
        w = clip.visual.conv1.weight.view(-1)
        for _ in range(int(ulps)):
            w[0] = torch.nextafter(w[0], torch.tensor(float("inf"), dtype=w.dtype))


def pretrain_clip(clip_model: str, settings: PretrainSettings, progress: bool = True) -> tuple[dict, dict]:
    """Pretrain ``clip_model`` from random init on the corpus. Returns (state_dict, report).

    The plain reference path (one model, open_clip's own modules, ``torch.optim.AdamW``);
    ``microau.pretrain.batched`` trains several seeds at once and is tested equal to it."""
    import open_clip
    from tqdm.auto import tqdm

    from ..model.backbone import TextTower, flow_images_to_tensor, load_clip
    from ..model.tokens import landmark_token_index

    t0, c0 = time.perf_counter(), time.process_time()
    torch.manual_seed(settings.seed)
    clip = load_clip(clip_model, None)
    nudge_by_ulps(clip, settings.init_ulps)
    size = int(clip.visual.image_size[0])
    corpus = corpus_arrays(settings, size, progress)
    t_render = time.perf_counter() - t0
    clip.visual.pool_type = settings.image_pool  # pretraining only: the checkpoint holds weights
    clip.train()
    text = TextTower(clip, trainable_blocks=len(clip.transformer.resblocks))
    tokenizer = open_clip.get_tokenizer(clip_model)
    sentences = corpus.sentences
    vocab = sorted({s for true in sentences for s in true})
    tokens = tokenizer(vocab)
    prompt_tokens = tokenizer(local_prompt_texts())
    where = {s: k for k, s in enumerate(vocab)}
    truth = torch.zeros(len(sentences), len(vocab), dtype=torch.bool)  # [M, V]: sentence v is true of image m
    for m, true in enumerate(sentences):
        truth[m, [where[s] for s in true]] = True
    grid = tuple(clip.visual.grid_size)
    token_index = landmark_token_index(torch.as_tensor(corpus.landmarks), (size, size), grid)  # [M, 68]
    labels = torch.as_tensor(corpus.labels)
    decay = [p for n, p in clip.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    other = [p for n, p in clip.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": settings.weight_decay},
                             {"params": other, "weight_decay": 0.0}], lr=settings.lr)
    order_rng = np.random.default_rng(settings.seed)
    n = len(sentences)
    batches = [order_rng.permutation(n)[i:i + settings.batch_size]
               for _ in range(settings.epochs) for i in range(0, n, settings.batch_size)]
    losses, parts = [], []
    bar = tqdm(batches, desc=f"pretrain {clip_model}", unit="step", disable=not progress)
    for step, idx in enumerate(bar):
        for g in opt.param_groups:
            g["lr"] = _lr(settings, step, len(batches))
        idx = np.sort(idx)
        rows = torch.as_tensor(idx)
        x = flow_images_to_tensor(corpus.images[idx], size)
        positives = truth[rows]
        used = positives.any(0)
        img_feat, patch_tokens = clip.visual(x)
        if settings.local_weight:
            txt_all = text(torch.cat([tokens[used], prompt_tokens]))
            txt_feat, prompt_feat = txt_all[:-len(prompt_tokens)], txt_all[-len(prompt_tokens):]
        else:
            txt_feat = text(tokens[used])
        loss_global = multi_positive_clip_loss(img_feat, txt_feat, positives[:, used], clip.logit_scale)
        loss_local = torch.zeros((), dtype=loss_global.dtype)
        if settings.local_weight:
            weights = local_token_weights(token_index[rows], patch_tokens.shape[1])
            loss_local = local_au_loss(patch_tokens, weights, labels[rows], clip.visual.proj,
                                       prompt_feat.view(len(LOCAL_AUS), 2, -1), clip.logit_scale)
        loss = loss_global + settings.local_weight * loss_local
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            clip.logit_scale.clamp_(0, math.log(100))
        losses.append(float(loss.detach()))
        parts.append((float(loss_global.detach()), float(loss_local.detach())))
        bar.set_postfix_str(f"loss {loss.item():.3f}", refresh=False)
    bar.close()
    report = pretrain_report(clip_model, settings, n, len(vocab), losses, parts, t_render,
                             time.perf_counter() - t0, time.process_time() - c0)
    return clip.state_dict(), report


def pretrain_report(clip_model: str, settings: PretrainSettings, pairs: int, distinct: int, losses: list[float],
                    parts: list[tuple[float, float]], render_s: float, total_s: float, cpu_s: float) -> dict:
    """What a pretraining records next to its checkpoint: its losses (total, global, local), the
    plateau check of each (:func:`plateau_check`), and its times."""
    parts_arr = np.asarray(parts, dtype=np.float64).reshape(-1, 2)
    return {
        "clip_model": clip_model, "pairs": pairs, "distinct_sentences": distinct, "steps": len(losses),
        "targets": settings.targets, "local_weight": settings.local_weight,
        "loss_first": losses[0], "loss_last_10": float(np.mean(losses[-10:])),
        "global_last_10": float(parts_arr[-10:, 0].mean()), "local_last_10": float(parts_arr[-10:, 1].mean()),
        "plateau": plateau_check(losses),
        "loss_curve": [float(np.mean(losses[i:i + 10])) for i in range(0, len(losses), 10)],
        "render_s": round(render_s, 2), "total_s": round(total_s, 2),
        "cpu_s": round(cpu_s, 2),  # all threads; wall time on an idle machine
        "torch_threads": torch.get_num_threads(),
    }
