"""What the reference and the fast trainer share: model construction, the schedule, the batch
order and the per-fold result record. Sharing these is what makes the two comparable."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..config import Config
from ..losses import global_sentence
from ..model.micro_au_clip import MicroAUCLIP


def build_model(cfg: Config, aus: tuple[int, ...]) -> MicroAUCLIP:
    """Every fold starts from the same weights: the model is built under ``cfg.seed``. The tag of
    the phantom-pretrained backbone resolves to its cached checkpoint, which then loads through
    the same ``pretrained=<path>`` code as a user's own CLIP file."""
    from ..model.backbone import load_clip
    from ..pretrain.checkpoint import resolve_pretrained

    torch.manual_seed(cfg.seed)
    clip = load_clip(cfg.clip_model, resolve_pretrained(cfg.clip_model, cfg.pretrained, progress=False,
                                                        backbone_seed=cfg.backbone_seed))
    return MicroAUCLIP(cfg, aus=aus, clip=clip)


def lr_factor(cfg: Config, epoch: int) -> float:
    """Sec. IV-A: the learning rate is divided by 10 from ``lr_decay_epoch`` on."""
    return 0.1 if epoch >= cfg.lr_decay_epoch else 1.0


def epoch_batches(n_train: int, batch_size: int, seed: int, fold: int, epoch: int) -> list[np.ndarray]:
    """Shuffled batches (positions into the fold's training list) for one epoch of one fold.

    The order depends only on (seed, fold, epoch), so any trainer, and any grouping of folds,
    sees the same batches. The last batch may be smaller; none is dropped.
    """
    order = np.random.default_rng([seed, fold, epoch]).permutation(n_train)
    return [order[i : i + batch_size] for i in range(0, n_train, batch_size)]


def sentences_for(aus: tuple[int, ...], labels: torch.Tensor) -> list[str]:
    return [global_sentence(aus, row) for row in labels.tolist()]


@dataclass
class FoldResult:
    """What one LOSO fold produces on its held-out subject (arrays are numpy, [T, ...])."""

    fold: int
    subject: str
    test_index: np.ndarray  # rows of TrainData
    probs: np.ndarray  # [T, N] P(active)
    au_features: np.ndarray  # [T, N, E] (Fig. 7, Fig. 6, MER)
    token_weights: np.ndarray | None  # [T, N, L] PTA weights (Fig. 5)
    dependency: np.ndarray | None  # [T, N] GDA W_d (Fig. 5)
    attention: np.ndarray | None  # [T, N, N] GDA A
    prompt_features: np.ndarray | None  # [N, 2, E] negative/positive prompt features of this fold
    epoch_loss: list[float] = field(default_factory=list)

    def save(self, path) -> None:
        """Written to a temporary name and renamed: a crash leaves the old file or none, never half."""
        from .store import write_npz_atomic

        arrays = {k: v for k, v in vars(self).items() if isinstance(v, np.ndarray)}
        write_npz_atomic(path, fold=self.fold, subject=self.subject,
                         epoch_loss=np.asarray(self.epoch_loss), **arrays)

    @classmethod
    def load(cls, path) -> "FoldResult":
        """FileNotFoundError when missing; ``store.DamagedRunError`` naming the file when it cannot be
        read whole (truncated, zeroed, a member's CRC wrong, an array missing)."""
        import zipfile
        import zlib

        from .store import DamagedRunError

        try:
            with np.load(path, allow_pickle=False) as z:
                get = lambda k: z[k] if k in z.files else None  # noqa: E731
                return cls(fold=int(z["fold"]), subject=str(z["subject"]), test_index=z["test_index"],
                           probs=z["probs"], au_features=z["au_features"], token_weights=get("token_weights"),
                           dependency=get("dependency"), attention=get("attention"),
                           prompt_features=get("prompt_features"), epoch_loss=z["epoch_loss"].tolist())
        except FileNotFoundError:
            raise
        except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, KeyError) as err:
            raise DamagedRunError(path, f"unreadable fold file ({type(err).__name__}: {err})") from None


def outputs_to_fold_result(fold, subject, test_index, out, prompt_feats, epoch_loss) -> FoldResult:
    def cpu(t):  # bf16 results (autocast) are stored as float32
        if t is None:
            return None
        t = t.detach()
        return (t.float() if t.dtype in (torch.bfloat16, torch.float16) else t).cpu().numpy()

    return FoldResult(
        fold=fold, subject=subject, test_index=np.asarray(test_index), probs=cpu(out.probs),
        au_features=cpu(out.au_features), token_weights=cpu(out.token_weights),
        dependency=cpu(out.dependency), attention=cpu(out.attention),
        prompt_features=cpu(prompt_feats), epoch_loss=list(epoch_loss),
    )
