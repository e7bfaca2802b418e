"""Leave-one-subject-out runs: train every fold, concatenate predictions, score, store.

A run lives in its own directory, keyed by a hash of the resolved config. Asking again for a
finished run reads it back; an interrupted run resumes at the first fold without a saved
result. Each run directory holds:

- ``config.yaml``: the resolved configuration;
- ``predictions.csv``: one row per (clip, AU): subject, fold, label, probability, prediction;
- ``metrics.csv``: F1 and accuracy per AU and their mean (Tables II-IX);
- ``mer.csv`` / ``mer_metrics.json``: label-free emotion predictions (Eq. 13) and UF1/UAR/WF1/acc;
- ``arrays.npz``: per-clip AU features, PTA weights, GDA weights and attention, prompt features
  per fold (what Figs. 5-7 and Table III's TextSi need);
- ``meta.json``: data source, data fingerprint, package versions, git commit, trainer, timings.
"""
from __future__ import annotations

import hashlib
import json
import logging
import platform
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..aus import EMOTION3_CLASSES, au_name
from ..config import KEY_NEUTRAL, Config
from ..mer import emotion_scores
from .common import FoldResult, epoch_batches
from .data import TrainData, load_train_data
from .metrics import au_metrics, mer_metrics

log = logging.getLogger(__name__)

# Names and placement do not change what is computed: two variants that resolve to the same
# settings (e.g. 'full' and 'table2/lsi_gsd') share one run.
_HASH_EXCLUDE = ("device", "notes", "variant", "profile", "alpha", "beta")


def default_runs_dir() -> Path:
    import os

    return Path(os.environ.get("MICROAU_RUNS", Path.cwd() / "runs"))


def config_key(cfg: Config) -> str:
    values = {k: v for k, v in cfg.to_dict().items()
              if k not in _HASH_EXCLUDE and not (k in KEY_NEUTRAL and v == KEY_NEUTRAL[k])}
    values["loss_weights"] = cfg.loss_weights
    return hashlib.sha1(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:10]


def run_dir_for(cfg: Config, runs_dir: Path | None = None) -> Path:
    runs_dir = Path(runs_dir) if runs_dir else default_runs_dir()
    return runs_dir / cfg.dataset / cfg.profile / config_key(cfg)


@dataclass
class RunResult:
    run_dir: Path
    config: Config
    predictions: pd.DataFrame
    metrics: pd.DataFrame
    mer: pd.DataFrame
    mer_metrics: dict
    meta: dict

    @property
    def f1(self) -> float:
        return float(self.metrics.set_index("au").loc["mean", "f1"])

    @property
    def acc(self) -> float:
        return float(self.metrics.set_index("au").loc["mean", "acc"])

    @property
    def source(self) -> str:
        return self.meta["source"]

    def arrays(self) -> dict[str, np.ndarray]:
        with np.load(self.run_dir / "arrays.npz", allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    @classmethod
    def load(cls, run_dir: Path) -> "RunResult":
        run_dir = Path(run_dir)
        if not (run_dir / "DONE").exists():
            raise FileNotFoundError(f"{run_dir} holds no finished run (no DONE marker)")
        return cls(
            run_dir=run_dir,
            config=Config.from_yaml(run_dir / "config.yaml"),
            predictions=pd.read_csv(run_dir / "predictions.csv", dtype={"subject": str}),
            metrics=pd.read_csv(run_dir / "metrics.csv"),
            mer=pd.read_csv(run_dir / "mer.csv", dtype={"subject": str}),
            mer_metrics=json.loads((run_dir / "mer_metrics.json").read_text()),
            meta=json.loads((run_dir / "meta.json").read_text()),
        )


def run_loso(
    cfg: Config,
    runs_dir: Path | str | None = None,
    trainer: str = "fast",
    fold_chunk: int | None = None,
    force: bool = False,
    progress: bool = True,
    data: TrainData | None = None,
    max_folds: int | None = None,
) -> RunResult:
    """Run (or read back) the LOSO evaluation of ``cfg``.

    ``trainer`` is 'fast' (default) or 'reference' (the plain loop the fast one is tested
    against). ``fold_chunk`` is how many folds the fast trainer trains at once (default: all);
    results are saved after each chunk, so a smaller chunk loses less work when interrupted.
    ``max_folds`` stops after that many folds without writing the final results (for timing).
    """
    if trainer not in ("fast", "reference"):
        raise ValueError(f"trainer must be 'fast' or 'reference', not {trainer!r}")
    run_dir = run_dir_for(cfg, runs_dir)
    if (run_dir / "DONE").exists() and not force:
        log.info("reading back the finished run %s", run_dir)
        result = RunResult.load(run_dir)
        result.config = cfg  # same computation, possibly asked for under another variant name
        return result
    if force and run_dir.exists():
        for f in (run_dir / "folds").glob("*.npz"):
            f.unlink()
        (run_dir / "DONE").unlink(missing_ok=True)
    (run_dir / "folds").mkdir(parents=True, exist_ok=True)
    cfg.to_yaml(run_dir / "config.yaml")

    t0 = time.perf_counter()
    data = data if data is not None else load_train_data(cfg, progress=progress)
    data.to(cfg.device)
    subjects = data.fold_subjects
    fold_file = lambda f: run_dir / "folds" / f"fold{f:03d}.npz"  # noqa: E731
    todo = [f for f in range(len(subjects)) if not fold_file(f).exists()]
    if len(todo) < len(subjects):
        log.info("resuming %s: %d of %d folds already done", run_dir.name, len(subjects) - len(todo), len(subjects))
    if max_folds is not None:
        todo = todo[:max_folds]

    total_steps = sum(
        len(epoch_batches(len(data.subject_index(subjects[f], test=False)), cfg.batch_size, cfg.seed, f, 0))
        for f in todo
    ) * cfg.epochs
    bar = _progress(total_steps, progress, f"LOSO {cfg.dataset} {cfg.variant}")
    chunk = fold_chunk or len(todo) or 1
    t_train = time.perf_counter()
    prefix = None
    for start in range(0, len(todo), chunk):
        folds = todo[start : start + chunk]
        bar.set_postfix_str(f"folds {folds[0] + 1}-{folds[-1] + 1}/{len(subjects)}")
        on_step = lambda loss, n=1: (bar.update(n), bar.set_postfix_str(  # noqa: E731
            f"folds {folds[0] + 1}-{folds[-1] + 1}/{len(subjects)} loss {loss:.3f}", refresh=False))
        if trainer == "fast":
            from .fast import train_folds_fast, visual_prefix_cache
            from .common import build_model

            if prefix is None:
                prefix = visual_prefix_cache(build_model(cfg, data.aus).to(cfg.device), data.images)
            results = train_folds_fast(cfg, data, folds, on_step=on_step, prefix_cache=prefix)
        else:
            from .reference import train_fold_reference

            results = [train_fold_reference(cfg, data, f, on_step=on_step) for f in folds]
        for r in results:
            r.save(fold_file(r.fold))
    bar.close()
    train_seconds = time.perf_counter() - t_train
    missing = [f for f in range(len(subjects)) if not fold_file(f).exists()]
    if missing:
        raise RuntimeError(f"{len(missing)} fold(s) not trained yet (max_folds={max_folds}); run again to resume")
    folds = [FoldResult.load(fold_file(f)) for f in range(len(subjects))]
    result = _assemble(cfg, data, folds, run_dir, trainer,
                       timings={"total_s": time.perf_counter() - t0, "train_s": train_seconds})
    (run_dir / "DONE").write_text(time.strftime("%Y-%m-%d %H:%M:%S"))
    return result


def _progress(total: int, enabled: bool, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=desc, unit="step", dynamic_ncols=True, leave=False)


def _assemble(cfg: Config, data: TrainData, folds: list[FoldResult], run_dir: Path, trainer: str,
              timings: dict) -> RunResult:
    M, N = data.labels.shape
    aus = data.aus
    names = [au_name(a) for a in aus]
    labels = data.labels.cpu().numpy()
    probs = np.zeros((M, N), dtype=np.float32)
    fold_of = np.zeros(M, dtype=int)

    def gather(attr):
        first = getattr(folds[0], attr)
        if first is None:
            return None
        out = np.zeros((M,) + first.shape[1:], dtype=first.dtype)
        for f in folds:
            out[f.test_index] = getattr(f, attr)
        return out

    for f in folds:
        probs[f.test_index] = f.probs
        fold_of[f.test_index] = f.fold
    preds = (probs > 0.5).astype(int)

    rows = []
    for i in range(M):
        for n in range(N):
            rows.append((data.ids[i], data.subjects[i], fold_of[i], names[n], int(labels[i, n]),
                         float(probs[i, n]), int(preds[i, n])))
    predictions = pd.DataFrame(rows, columns=["id", "subject", "fold", "au", "label", "prob", "pred"])
    metrics = au_metrics(labels, preds, names)

    arrays = {"probs": probs, "labels": labels, "fold": fold_of}
    for attr in ("au_features", "token_weights", "dependency", "attention"):
        value = gather(attr)
        if value is not None:
            arrays[attr] = value
    mer = pd.DataFrame({"id": data.ids, "subject": data.subjects,
                        "emotion3": [e or "" for e in data.emotion3]})
    mer_result = {"available": False}
    text_si = None
    if folds[0].prompt_features is not None:
        prompt = np.stack([f.prompt_features for f in folds])  # [F, N, 2, E]
        arrays["prompt_features"] = prompt
        pos, neg = prompt[:, :, 1], prompt[:, :, 0]
        cos = (pos * neg).sum(-1) / np.linalg.norm(pos, axis=-1) / np.linalg.norm(neg, axis=-1)
        text_si = float(cos.mean())  # Table III: similarity of positive vs negative prompts
        scores = np.zeros((M, len(EMOTION3_CLASSES)), dtype=np.float32)
        feats = torch.as_tensor(arrays["au_features"])
        for f in folds:
            scores[f.test_index] = emotion_scores(feats[f.test_index], torch.as_tensor(f.prompt_features),
                                                  aus).numpy()
        for r, c in enumerate(EMOTION3_CLASSES):
            mer[f"score_{c}"] = scores[:, r]
        mer["pred"] = [EMOTION3_CLASSES[k] for k in scores.argmax(1)]
        keep = mer.emotion3 != ""
        mer_result = {"available": True, **mer_metrics(mer.emotion3[keep].tolist(), mer.pred[keep].tolist(),
                                                       EMOTION3_CLASSES)}
    mer_result["text_similarity"] = text_si

    run_dir.mkdir(parents=True, exist_ok=True)
    predictions.to_csv(run_dir / "predictions.csv", index=False)
    metrics.to_csv(run_dir / "metrics.csv", index=False)
    mer.to_csv(run_dir / "mer.csv", index=False)
    (run_dir / "mer_metrics.json").write_text(json.dumps(mer_result, indent=2))
    np.savez_compressed(run_dir / "arrays.npz", **arrays)
    meta = {
        "source": data.source,
        "dataset": data.dataset,
        "n_clips": M,
        "n_subjects": len(data.fold_subjects),
        "aus": list(aus),
        "data_fingerprint": data.fingerprint() if data.images.device.type == "cpu" else None,
        "prep_fallbacks": data.fallbacks,
        "trainer": trainer,
        "epoch_loss_mean": np.mean([f.epoch_loss for f in folds], axis=0).tolist(),
        "timings": timings,
        "versions": _versions(),
        "git_commit": _git_commit(),
        "device": cfg.device,
    }
    (run_dir / "meta.json").write_text(json.dumps(meta, indent=2))
    cfg.to_yaml(run_dir / "config.yaml")
    return RunResult(run_dir, cfg, predictions, metrics, mer, mer_result, meta)


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for pkg in ("microau", "torch", "open_clip_torch", "numpy", "scikit-learn", "opencv-contrib-python-headless",
                "dlib-bin"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _git_commit() -> str:
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True,
                                timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return (commit + ("+dirty" if dirty else "")) if commit else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"
