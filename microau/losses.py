"""The training objective, Eq. 8-12, one function per equation.

``total_loss`` assembles Eq. 12 from a model output, the labels and the text features, choosing
the contrastive term from ``cfg.contrastive`` (Table VIII) and, for MiAUCL, its reading from
``cfg.miaucl_targets``, and dropping GDLoss when GDA is off.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .aus import AU_PROMPTS
from .config import Config


def multitask_ce(logits: torch.Tensor, labels: torch.Tensor,
                 class_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Multi-task loss of Eq. 12: the sum over AUs of the batch-mean 2-way cross-entropy.

    logits [B, N, 2], labels [B, N] in {0, 1}. ``class_weights`` [N, 2] (our reading for class
    imbalance, ``Config.class_weights='balanced'``): each clip's term for AU n is multiplied by the
    weight of its label, and the batch mean is taken as it stands (not divided by the summed
    weights, as ``F.cross_entropy(weight=...)`` would), so balanced weights keep the loss's scale
    on average. None: the paper's plain sum.
    """
    nll = F.cross_entropy(logits.permute(0, 2, 1), labels.long(), reduction="none")  # [B, N]
    if class_weights is not None:
        n_index = torch.arange(labels.shape[1], device=labels.device)
        nll = nll * class_weights.to(nll.dtype)[n_index, labels.long()]
    return nll.mean(0).sum()


def balanced_class_weights(labels: torch.Tensor) -> torch.Tensor:
    """Per-AU class weights [N, 2] from training labels [M, N]: M / (2 * count of the class), the
    rule of scikit-learn's ``class_weight='balanced'`` (used by the region baseline). An AU whose
    training clips hold a single class gets weight 1 for both (nothing to balance)."""
    y = labels.to(torch.float64)
    m = y.shape[0]
    pos = y.sum(0)
    counts = torch.stack([m - pos, pos], -1)  # [N, 2]: negatives, positives
    weights = m / (2.0 * counts.clamp(min=1.0))
    single = (counts == 0).any(-1, keepdim=True)
    return torch.where(single, torch.ones_like(weights), weights).to(torch.float32)


def soft_target_contrastive(logits: torch.Tensor, targets: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """Symmetric cross-entropy of [..., B, B] similarity logits against 0/1 targets -> [...].

    With ``normalize`` (CLIP's form, and Eq. 10 as written) each row of ``targets`` is divided by
    its sum, so it is a distribution (every row has at least its diagonal). Without it the 0/1 row
    is the target as it stands, ``F.cross_entropy(logits, targets)`` with probability targets:
    a row with k ones weighs k times one with a single one. The image->text and text->image
    directions are averaged, as in CLIP. Leading dimensions (one per AU in MiAUCL) are
    independent problems.
    """
    targets = targets.to(logits.dtype)
    targets_t = targets.transpose(-1, -2)
    rows, cols = targets, targets_t
    if normalize:
        rows = targets / targets.sum(-1, keepdim=True)
        cols = targets_t / targets_t.sum(-1, keepdim=True)
    v2t = -(rows * F.log_softmax(logits, dim=-1)).sum(-1).mean(-1)
    t2v = -(cols * F.log_softmax(logits.transpose(-1, -2), dim=-1)).sum(-1).mean(-1)
    return 0.5 * (v2t + t2v)


def pairwise_sigmoid_contrastive(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of every entry of [..., B, B] logits against 0/1 targets -> [...].

    Each (visual, text) pair is its own yes/no problem (as in SigLIP, without its learned bias);
    the mean is over the B x B entries. The loss is the same read by rows or by columns.
    """
    bce = F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype), reduction="none")
    return bce.mean((-1, -2))


def cosine_logits(visual: torch.Tensor, text: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """Eq. 9: M = CS(visual, text), scaled by CLIP's logit scale. [..., B, D] x [..., B, D] -> [..., B, B]."""
    return logit_scale * F.normalize(visual, dim=-1) @ F.normalize(text, dim=-1).transpose(-1, -2)


def miau_label_matrix(labels_n: torch.Tensor) -> torch.Tensor:
    """Eq. 10: LM_n(b1, b2) = 1 where samples b1 and b2 have the same label for AU n.

    labels_n [B] -> [B, B]; a leading AU dimension ([N, B] -> [N, B, B]) is kept.
    """
    return (labels_n.unsqueeze(-1) == labels_n.unsqueeze(-2)).float()


def miau_contrastive(
    visual: torch.Tensor, text: torch.Tensor, labels: torch.Tensor, logit_scale: torch.Tensor,
    diagonal_targets: bool = False, targets: str = "normalized",
) -> torch.Tensor:
    """Eq. 9-11 MiAUCL: sum over AUs of a per-AU contrastive loss CL_n.

    visual, text [B, N, D]; labels [B, N]. M_n (Eq. 9) is compared with LM_n (Eq. 10) under one
    of three readings of "cross-entropy loss is used for LM_n and M_n" (``targets``; our reading,
    the text does not settle it):

    - ``'normalized'``: rows of LM_n normalised to distributions, symmetric cross-entropy. With
      two prompts per AU, same-label columns of M_n are equal and this equals the diagonal
      targets exactly (loss and gradient): local OrigCL.
    - ``'literal'``: ``cross_entropy(M_n, LM_n)`` with the 0/1 matrix as probability targets,
      both directions; each row weighs its count of same-label samples. With shared prompts it
      equals local OrigCL with rows so weighted, so it is also larger by about the mean
      same-label count: at a fixed alpha (Eq. 12) MiAUCL weighs more than under 'normalized'.
    - ``'sigmoid'``: binary cross-entropy on every entry of M_n against LM_n.

    With ``diagonal_targets`` the label matrix is the identity instead of Eq. 10: the 'local
    OrigCL' row of Table VIII (``targets`` is then ignored). The N per-AU problems are computed
    side by side (AU axis first); none mixes samples of different AUs.
    """
    B, N, _ = visual.shape
    logits = cosine_logits(visual.transpose(0, 1), text.transpose(0, 1), logit_scale)  # Eq. 9, [N, B, B]
    if diagonal_targets:
        eye = torch.eye(B, device=visual.device).expand(N, B, B)
        return soft_target_contrastive(logits, eye).sum()
    label_matrix = miau_label_matrix(labels.transpose(0, 1))  # Eq. 10, [N, B, B]
    if targets == "normalized":
        per_au = soft_target_contrastive(logits, label_matrix)
    elif targets == "literal":
        per_au = soft_target_contrastive(logits, label_matrix, normalize=False)
    elif targets == "sigmoid":
        per_au = pairwise_sigmoid_contrastive(logits, label_matrix)
    else:
        raise ValueError(f"MiAUCL targets={targets!r}; choose one of ('normalized', 'literal', 'sigmoid')")
    return per_au.sum()  # Eq. 11: sum of CL_n


def global_contrastive(pooled: torch.Tensor, sentence: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """'global OrigCL' of Table VIII: image feature vs one sentence describing all its AUs,
    CLIP's diagonal targets."""
    logits = cosine_logits(pooled, sentence, logit_scale)
    return soft_target_contrastive(logits, torch.eye(len(pooled), device=pooled.device))


def global_sentence(aus: tuple[int, ...], labels_row: list[int]) -> str:
    """The whole-face description used by global OrigCL: the positive prompts of active AUs."""
    active = [AU_PROMPTS[a][0] for a, y in zip(aus, labels_row) if y]
    if not active:
        return "No facial action is visible"
    return ", and ".join([active[0]] + [s[0].lower() + s[1:] for s in active[1:]])


def gd_loss(dependency: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Eq. 8 GDLoss: (1/N) ||W_d - Y||^2 for each sample, averaged over the batch.

    W_d is a softmax (it sums to 1), so with k > 1 active AUs the loss cannot reach zero; see
    :func:`gd_loss_floor`.
    """
    return ((dependency - labels.to(dependency.dtype)) ** 2).mean(1).mean()


def gd_loss_floor(n_aus: int, n_active: int) -> float:
    """The least value of Eq. 8 for one sample over every W_d on the simplex, k = ``n_active``.

    The minimiser puts 1/k on each active AU and 0 elsewhere (the Euclidean projection of the
    multi-hot Y onto the simplex), which leaves (1/N) * k * (1 - 1/k)^2 = (k - 1)^2 / (k N).
    With no active AU the least value is 1/N^2 (W_d uniform). A softmax only approaches the
    boundary of the simplex, so for k >= 1 this is an infimum that training can near, not reach.
    """
    if n_aus < 1 or not 0 <= n_active <= n_aus:
        raise ValueError(f"need 0 <= n_active <= n_aus and n_aus >= 1, got n_aus={n_aus}, n_active={n_active}")
    if n_active == 0:
        return 1.0 / n_aus**2
    return (n_active - 1) ** 2 / (n_active * n_aus)


@dataclass
class LossParts:
    total: torch.Tensor
    multitask: torch.Tensor
    contrastive: torch.Tensor
    dependency: torch.Tensor

    def as_floats(self) -> dict[str, float]:
        return {k: float(v.detach()) for k, v in vars(self).items()}


def total_loss(
    cfg: Config,
    output,  # MicroAUOutput
    labels: torch.Tensor,
    text_features: torch.Tensor | None,
    logit_scale: torch.Tensor,
    class_weights: torch.Tensor | None = None,
) -> LossParts:
    """Eq. 12: MultiTask + alpha * L_MiAUC + beta * L_GD.

    ``text_features`` is [B, N, D] (each sample's prompt per AU) for 'miau'/'local', [B, D] (one
    sentence per sample) for 'global', None for 'none'. ``class_weights`` [N, 2] enter the
    multi-task term when ``cfg.class_weights`` is not 'none' (:func:`balanced_class_weights`).
    """
    alpha, beta = cfg.loss_weights
    mt = multitask_ce(output.logits, labels, class_weights if cfg.class_weights != "none" else None)
    zero = mt.new_zeros(())
    if cfg.contrastive == "none" or alpha == 0.0:
        cl = zero
    elif cfg.contrastive == "global":
        cl = global_contrastive(output.pooled, text_features, logit_scale)
    else:
        cl = miau_contrastive(output.au_features, text_features, labels, logit_scale,
                              diagonal_targets=cfg.contrastive == "local", targets=cfg.miaucl_targets)
    gd = gd_loss(output.dependency, labels) if (beta and output.dependency is not None) else zero
    return LossParts(total=mt + alpha * cl + beta * gd, multitask=mt, contrastive=cl, dependency=gd)


def miaucl_reading_gaps(batch: int = 8, n_aus: int = 4, dim: int = 16, scale: float = 100.0,
                        seed: int = 0) -> dict[str, dict[str, float]]:
    """For the Findings chapter: each reading of Eq. 9-11 against local OrigCL's diagonal targets
    on one random batch whose texts are gathered from two prompts per AU, as in training.

    Returns, per reading, the absolute loss difference and the largest absolute difference of
    the gradients with respect to the visual features and the 2N prompt features (float64).
    """
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (batch, n_aus), generator=g)
    visual0 = torch.randn(batch, n_aus, dim, generator=g, dtype=torch.float64)
    prompts0 = torch.randn(n_aus, 2, dim, generator=g, dtype=torch.float64)

    def run(**kw):
        visual = visual0.clone().requires_grad_(True)
        prompts = prompts0.clone().requires_grad_(True)
        text = prompts[torch.arange(n_aus).unsqueeze(0), labels]  # each sample's prompt per AU
        loss = miau_contrastive(visual, text, labels, torch.tensor(scale, dtype=torch.float64), **kw)
        loss.backward()
        return loss.detach(), visual.grad, prompts.grad

    diag = run(diagonal_targets=True)
    out = {}
    for reading in ("normalized", "literal", "sigmoid"):
        got = run(targets=reading)
        out[reading] = {"loss_difference": float((got[0] - diag[0]).abs()),
                        "visual_grad_difference": float((got[1] - diag[1]).abs().max()),
                        "prompt_grad_difference": float((got[2] - diag[2]).abs().max())}
    return out
