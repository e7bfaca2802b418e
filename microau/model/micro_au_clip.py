"""Micro-AU CLIP (Fig. 2): CLIP backbones -> LSI (PTA) -> GSD (GDA) -> per-AU heads.

Read top to bottom: ``forward`` runs the visual tower on a flow image, picks each AU's patch
tokens at its Table I landmarks (Eq. 1), pools them per AU (Eq. 2-3), adds the global
dependency feature (Eq. 4-6) and classifies each AU (Eq. 7). The text side turns the positive
and negative prompt of every AU into features for the contrastive loss (Eq. 9-11) and MER (Eq. 13).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..aus import DATASET_AUS, au_prompt, check_aus, prompt_source
from ..config import Config
from .backbone import TextTower, VisualTower, freeze_for_finetuning, load_clip
from .gsd import AUHeads, GlobalDependencyAttention, PooledGlobalFeature
from .lsi import LocalAUFeatures
from .tokens import au_landmark_table, landmark_token_index


@dataclass
class MicroAUOutput:
    logits: torch.Tensor  # [B, N, 2]; softmax = P_n of Eq. 7
    au_features: torch.Tensor  # [B, N, E]: (F_G + F~_n) in CLIP's joint space
    token_weights: torch.Tensor | None  # [B, N, L]: PTA weights W^n_j (Eq. 2)
    dependency: torch.Tensor | None  # [B, N]: GDA dependency weights W_d (Eq. 5)
    attention: torch.Tensor | None  # [B, N, N]: GDA self-attention A (Eq. 4)

    @property
    def probs(self) -> torch.Tensor:
        """Probability that each AU is active, [B, N]."""
        return torch.softmax(self.logits, dim=-1)[..., 1]

    @property
    def pooled(self) -> torch.Tensor:
        """Image-level feature for the global OrigCL baseline: mean of the AU features."""
        return self.au_features.mean(1)


class MicroAUCLIP(nn.Module):
    def __init__(self, cfg: Config, aus: tuple[int, ...] | None = None, clip: nn.Module | None = None):
        super().__init__()
        self.cfg = cfg
        self.aus = tuple(aus or DATASET_AUS[cfg.base_dataset])
        check_aus(self.aus, need_landmarks=cfg.uses_landmarks)
        clip = clip if clip is not None else load_clip(cfg.clip_model, cfg.pretrained)
        text_blocks = cfg.text_trainable_blocks if cfg.uses_text else 0
        freeze_for_finetuning(clip, cfg.visual_trainable_blocks, text_blocks)

        self.visual = VisualTower(clip, cfg.visual_trainable_blocks)
        self.text = TextTower(clip, text_blocks) if cfg.uses_text else None
        self.logit_scale = clip.logit_scale  # frozen, as everything outside the last blocks
        self.image_size = int(clip.visual.image_size[0] if isinstance(clip.visual.image_size, tuple)
                              else clip.visual.image_size)
        width, n = clip.visual.transformer.width, len(self.aus)

        self.local = LocalAUFeatures(cfg.lsi, n, width, cfg.pta_hidden)
        if cfg.gsd == "gda":
            self.dependency = GlobalDependencyAttention(n, width)
        elif cfg.gsd in ("add_mlp", "cat_mlp"):
            self.dependency = PooledGlobalFeature(cfg.gsd, n, width)
        else:
            self.dependency = None
        self.heads = AUHeads(n, width, cfg.head_hidden)

        index, valid = au_landmark_table(self.aus) if cfg.uses_landmarks else (
            torch.zeros(n, 1, dtype=torch.long), torch.ones(n, 1, dtype=torch.bool))
        # Eq. 12's per-AU class weights [N, 2] (cfg.class_weights; ones = the paper's plain CE), set
        # per fold from its training clips by the trainers (microau.losses.balanced_class_weights)
        self.register_buffer("class_weights", torch.ones(n, 2), persistent=False)
        self.register_buffer("au_landmarks", index, persistent=False)
        self.register_buffer("au_valid", valid, persistent=False)
        # the same table with each padding entry on its AU's first landmark: the tokens it names
        # are the ones LSI reads (padding is masked out of every pooling)
        self.register_buffer("au_landmarks_read", torch.where(valid, index, index[:, :1]), persistent=False)
        self.keep_tokens: int | None = None  # see use_sparse_last_block
        if self.text is not None:
            import open_clip

            self.tokenizer = open_clip.get_tokenizer(cfg.clip_model)
            self.register_buffer("prompt_tokens", self.tokenizer(self.prompts()), persistent=False)

    def use_fast_path(self, enabled: bool = True) -> "MicroAUCLIP":
        """Compute the same model with batched kernels: trainable transformer blocks with 2-D
        projections (``microau.model.blocks``), all PTA modules and all heads in one product each.
        The parameters are unchanged; the plain per-AU path is the default and the reference."""
        self.visual.flat_blocks = enabled
        if self.text is not None:
            self.text.flat_blocks = enabled
        if self.local.pta is not None:
            self.local.pta.grouped = enabled
        self.heads.grouped = enabled
        return self

    def use_sparse_last_block(self, landmarks: torch.Tensor | None) -> "MicroAUCLIP":
        """Compute the last trainable visual block only where the model reads its output (fast
        path of ``forward_from_prefix``; ``None`` turns it off). LSI reads the patch tokens at
        the Table I landmarks (Eq. 1), the no-LSI readings the class token; nothing else of the
        last block's output is used. The text tower's last block, likewise, runs only at each
        prompt's end-of-text token (the one pooled). ``landmarks`` [M, 68, 2] are every clip the model will see:
        they fix how many positions a sample may need (one shape for every batch)."""
        if self.text is not None:  # the text tower's last block likewise, at the end-of-text tokens
            self.text.sparse_last_block = landmarks is not None
        if landmarks is None:
            self.keep_tokens = None
        elif not self.cfg.uses_landmarks:
            self.keep_tokens = 1
        else:
            with torch.no_grad():
                self.keep_tokens = int(self._read_mask(landmarks).sum(1).max())
        return self

    def prefix_names(self) -> set[str]:
        """Names of the frozen tensors only the towers' prefixes read (never a training step of
        the fast path, which starts from the prefixes' cached outputs)."""
        names = {"visual." + n for n in self.visual.prefix_names()}
        return names | ({"text." + n for n in self.text.prefix_names()} if self.text is not None else set())

    def _read_mask(self, landmarks: torch.Tensor) -> torch.Tensor:
        """[B, 1 + h*w] bool: the sequence positions LSI reads (Eq. 1 at the Table I landmarks)."""
        h, w = self.visual.grid
        tok = landmark_token_index(landmarks, (self.image_size,) * 2, (h, w))[:, self.au_landmarks_read] + 1
        mask = torch.zeros(landmarks.shape[0], 1 + h * w, dtype=torch.bool, device=landmarks.device)
        return mask.scatter(1, tok.flatten(1), True)

    # ----- visual path ---------------------------------------------------------------
    def forward(self, images: torch.Tensor, landmarks: torch.Tensor) -> MicroAUOutput:
        """Reference path: full visual forward. images [B, 3, S, S], landmarks [B, 68, 2]."""
        return self.forward_from_prefix(self.visual.prefix(images), landmarks)

    def forward_from_prefix(self, prefix: torch.Tensor, landmarks: torch.Tensor) -> MicroAUOutput:
        """Fast path: start from the cached output of the frozen visual blocks (with the sparse
        last block when ``use_sparse_last_block`` set it)."""
        if self.keep_tokens is not None:
            return self._forward_sparse(prefix, landmarks)
        class_token, patch_tokens = self.visual.suffix(prefix)
        return self.forward_tokens(class_token, patch_tokens, landmarks)

    def _forward_sparse(self, prefix: torch.Tensor, landmarks: torch.Tensor) -> MicroAUOutput:
        """``forward_from_prefix`` with the last block at the read positions only: the same
        token features reach LSI (Eq. 1-3), so the same output."""
        B = prefix.shape[0]
        if not self.cfg.uses_landmarks:  # the class token alone
            keep = torch.zeros(B, 1, dtype=torch.long, device=prefix.device)
            tokens = self.visual.suffix_at(prefix, keep)
            return self._forward_local(tokens[:, 0], tokens, None)
        h, w = self.visual.grid
        mask = self._read_mask(landmarks)
        # the read positions first, ascending; the first keep_tokens of them cover every sample
        keep = torch.argsort((~mask).to(torch.uint8), dim=1, stable=True)[:, : self.keep_tokens]
        slot = mask.long().cumsum(1) - 1  # position -> its index among the kept ones
        tok = landmark_token_index(landmarks, (self.image_size,) * 2, (h, w))[:, self.au_landmarks_read] + 1
        token_index = torch.gather(slot, 1, tok.flatten(1)).view_as(tok)  # Eq. 1, into the kept tokens
        return self._forward_local(None, self.visual.suffix_at(prefix, keep), token_index)

    def forward_tokens(
        self, class_token: torch.Tensor, patch_tokens: torch.Tensor, landmarks: torch.Tensor
    ) -> MicroAUOutput:
        B, h, w, d = patch_tokens.shape
        token_of_landmark = landmark_token_index(landmarks, (self.image_size,) * 2, (h, w))  # Eq. 1
        token_index = token_of_landmark[:, self.au_landmarks]  # [B, N, L]
        return self._forward_local(class_token, patch_tokens.reshape(B, h * w, d), token_index)

    def _forward_local(self, class_token: torch.Tensor | None, tokens: torch.Tensor,
                       token_index: torch.Tensor | None) -> MicroAUOutput:
        """LSI (Eq. 2-3), GSD (Eq. 4-6) and the heads (Eq. 7) from the token features: tokens
        [B, T, d] and each AU's Table I tokens among them, token_index [B, N, L]."""
        B = tokens.shape[0]
        if token_index is None:
            token_index = torch.zeros(B, *self.au_landmarks.shape, dtype=torch.long, device=tokens.device)
        local, token_weights = self.local(tokens, class_token, token_index, self.au_valid)  # F~ (Eq. 2-3)
        dependency = attention = None
        if isinstance(self.dependency, GlobalDependencyAttention):
            global_feat, dependency, attention = self.dependency(local)  # Eq. 4-6
        elif self.dependency is not None:
            global_feat = self.dependency(local)
        else:
            global_feat = torch.zeros_like(local[:, 0])
        au_feats = local + global_feat.unsqueeze(1)  # F_G + F~_n
        return MicroAUOutput(
            logits=self.heads(au_feats),  # Eq. 7
            au_features=self.visual.project(au_feats),
            token_weights=token_weights,
            dependency=dependency,
            attention=attention,
        )

    # ----- text path -------------------------------------------------------------------
    def prompts(self) -> list[str]:
        """[neg AU_1, pos AU_1, neg AU_2, ...]: index 2n + label gives AU n's prompt (``cfg.prompts``
        'permuted' gives each AU another AU's pair, the text side's negative control)."""
        source = prompt_source(self.aus, self.cfg.prompts)
        return [au_prompt(a, bool(label), source) for a in self.aus for label in (0, 1)]

    def prompt_features(self, prefix_cache: torch.Tensor | None = None) -> torch.Tensor:
        """Features of every AU's negative and positive prompt, [N, 2, E].

        Each distinct prompt is encoded once, on the truncated context. ``prefix_cache`` is the
        output of the frozen text blocks on these prompts (constant during training).
        """
        self._need_text()
        tokens = self.prompt_tokens
        x = prefix_cache if prefix_cache is not None else self.text_prefix()
        return self.text.suffix(x, tokens).view(len(self.aus), 2, -1)

    def text_prefix(self) -> torch.Tensor:
        self._need_text()
        tokens = self.prompt_tokens
        return self.text.prefix(tokens, self.text.context_needed(tokens))

    def sample_text_features_reference(self, labels: torch.Tensor) -> torch.Tensor:
        """Plain path: each sample's N prompts tokenised and encoded on the full context."""
        self._need_text()
        source = prompt_source(self.aus, self.cfg.prompts)
        texts = [au_prompt(a, bool(y), source) for row in labels.tolist() for a, y in zip(self.aus, row)]
        tokens = self.tokenizer(texts).to(labels.device)
        return self.text(tokens, truncate=False).view(labels.shape[0], len(self.aus), -1)

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        """Features of arbitrary sentences, each distinct one encoded once (truncated context)."""
        self._need_text()
        unique = sorted(set(texts))
        feats = self.text(self.tokenizer(unique).to(self.prompt_tokens.device))
        where = {t: i for i, t in enumerate(unique)}
        return feats[torch.tensor([where[t] for t in texts], device=feats.device)]

    def _need_text(self) -> None:
        if self.text is None:
            raise RuntimeError("this model has no text tower (contrastive='none')")

    # ----- optimisation --------------------------------------------------------------------
    def param_groups(self) -> list[dict]:
        """Two SGD groups (Sec. IV-A): trainable CLIP blocks at lr_clip, new modules at lr_other."""
        clip_params, new_params = [], []
        for name, p in self.named_parameters():
            if not p.requires_grad:
                continue
            (clip_params if name.startswith(("visual.", "text.")) else new_params).append(p)
        return [
            {"params": clip_params, "lr": self.cfg.lr_clip, "name": "clip"},
            {"params": new_params, "lr": self.cfg.lr_other, "name": "new"},
        ]


def gather_prompt_features(prompt_feats: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Each sample's text feature per AU: prompt_feats [N, 2, E], labels [B, N] -> [B, N, E]."""
    n_index = torch.arange(prompt_feats.shape[0], device=labels.device)
    return prompt_feats[n_index.unsqueeze(0), labels.long()]
