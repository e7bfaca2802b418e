"""Leave-one-subject-out runs: train every fold, concatenate predictions, score, store.

A run lives in its own directory, ``<config key>-<data digest>``: a hash of the resolved config
and a digest of the data it is trained on (``microau.train.datakey``). Asking again for a
finished run reads it back, after checking each file against the size and SHA-256 recorded in
``DONE``; a damaged one is reported by path and trained again. An interrupted run resumes at
the folds without a readable saved result. Every file is written to a temporary name and
renamed (``microau.train.store``). Each run directory holds:

- ``config.yaml``: the resolved configuration;
- ``predictions.csv``: one row per (clip, AU): subject, fold, label, probability, prediction;
- ``metrics.csv``: F1 and accuracy per AU and their mean (Tables II-IX);
- ``mer.csv`` / ``mer_metrics.json``: label-free emotion predictions (Eq. 13) and UF1/UAR/WF1/acc;
- ``arrays.npz``: per-clip AU features, PTA weights, GDA weights and attention, prompt features
  per fold (what Figs. 5-7 and Table III's TextSi need);
- ``meta.json``: data source, data fingerprint, package versions, git commit, trainer, timings;
- ``folds/foldNNN.npz``: each fold's result as it is trained (what a resumed run reuses);
- ``DONE``: written last; size and SHA-256 of each file above.
"""
from __future__ import annotations

import hashlib
import json
import logging
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from ..aus import EMOTION3_CLASSES, au_name
from ..config import KEY_NEUTRAL, Config
from ..mer import emotion_scores
from ..paths import git_commit as _git_commit
from .common import FoldResult, epoch_batches
from .data import TrainData, load_train_data
from .datakey import SHORT, digest_for, digest_of
from .metrics import au_metrics, mer_metrics, no_au_metrics
from .store import (DONE, DamagedRunError, remove_stale_temporaries, verify_outputs, write_csv_atomic,
                    write_done, write_json_atomic, write_npz_atomic, write_text_atomic)

log = logging.getLogger(__name__)

# Names and placement do not change what is computed: two variants that resolve to the same
# settings (e.g. 'full' and 'table2/lsi_gsd') share one run.
_HASH_EXCLUDE = ("device", "notes", "variant", "profile", "alpha", "beta")


def default_runs_dir() -> Path:
    """The one default (``microau.paths.runs_dir``): ``$MICROAU_RUNS``, else ``<repository>/runs``."""
    from ..paths import runs_dir

    return runs_dir(None)


def config_key(cfg: Config) -> str:
    values = {k: v for k, v in cfg.to_dict().items()
              if k not in _HASH_EXCLUDE and not (k in KEY_NEUTRAL and v == KEY_NEUTRAL[k])}
    values["loss_weights"] = cfg.loss_weights
    if values.get("pretrained"):  # a tag of our own pretraining names its settings too
        from ..pretrain.checkpoint import pretrained_key

        values["pretrained"] = pretrained_key(cfg.clip_model, cfg.pretrained, cfg.backbone_seed)
    return hashlib.sha1(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:10]


def run_dir_for(cfg: Config, runs_dir: Path | None = None, data: TrainData | None = None) -> Path:
    """``<runs>/<dataset>/<profile>/<config key>-<data digest>``: the digest (``microau.train.datakey``)
    is read from the coding sheet (no preparation), or taken from ``data`` when given."""
    runs_dir = Path(runs_dir) if runs_dir else default_runs_dir()
    digest = digest_of(data) if data is not None else digest_for(cfg)
    return runs_dir / cfg.dataset / cfg.profile / f"{config_key(cfg)}-{digest[:SHORT]}"


OUTPUTS = ("config.yaml", "predictions.csv", "metrics.csv", "mer.csv", "mer_metrics.json", "arrays.npz",
           "meta.json")  # every file of a finished run; DONE records each one's size and SHA-256


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
        """Read a finished run back, after checking every output against the size and SHA-256 that
        ``DONE`` recorded. FileNotFoundError: not finished; DamagedRunError: a file does not match."""
        run_dir = Path(run_dir)
        if not (run_dir / DONE).exists():
            raise FileNotFoundError(f"{run_dir} holds no finished run (no DONE marker)")
        verify_outputs(run_dir, expected=OUTPUTS)
        try:
            return cls(
                run_dir=run_dir,
                config=Config.from_stored_yaml(run_dir / "config.yaml"),
                predictions=pd.read_csv(run_dir / "predictions.csv", dtype={"subject": str}),
                metrics=pd.read_csv(run_dir / "metrics.csv"),
                mer=pd.read_csv(run_dir / "mer.csv", dtype={"subject": str}),
                mer_metrics=json.loads((run_dir / "mer_metrics.json").read_text()),
                meta=json.loads((run_dir / "meta.json").read_text()),
            )
        except (OSError, ValueError, TypeError, yaml.YAMLError) as err:  # checksums matched: not damage
            raise DamagedRunError(run_dir, f"its files match their checksums but cannot be read ({err})") \
                from err


def is_finished(run_dir: Path) -> bool:
    """True when ``run_dir`` holds a finished run whose outputs all match their checksums."""
    try:
        verify_outputs(run_dir, expected=OUTPUTS)
        return True
    except (FileNotFoundError, DamagedRunError):
        return False


def check_trainable(cfg: Config) -> None:
    """Refuse settings under which a run would be marked done without being trained."""
    if not isinstance(cfg.epochs, int) or cfg.epochs < 1:
        raise ValueError(f"epochs={cfg.epochs!r}: a LOSO run trains at least one epoch; give --epochs 1 or "
                         "more (or leave it out to use the profile's count)")
    if cfg.batch_size < 1:
        raise ValueError(f"batch_size={cfg.batch_size!r}: give a batch size of at least 1")


def open_run(cfg: Config, runs_dir: Path | str | None, data: TrainData | None = None,
             force: bool = False) -> tuple[Path, RunResult | None]:
    """The run directory of ``cfg`` on ``data`` and, when it holds a finished, undamaged run (and
    ``force`` is not set), that run read back. Otherwise the directory is made ready to train in:
    a damaged finished run is reported by path and its completion marker removed (its verified
    fold files are kept and reused); ``force`` removes the fold files too."""
    check_trainable(cfg)
    run_dir = run_dir_for(cfg, runs_dir, data=data)
    if (run_dir / DONE).exists() and not force:
        try:
            result = RunResult.load(run_dir)
        except DamagedRunError as err:
            log.warning("the finished run %s is damaged: %s; training it again", run_dir, err)
        else:
            log.info("reading back the finished run %s", run_dir)
            result.config = cfg  # same computation, possibly asked for under another variant name
            return run_dir, result
    elif not run_dir.exists():
        _note_runs_on_other_data(run_dir)
    if force:
        for f in (run_dir / "folds").glob("*.npz"):
            f.unlink()
    (run_dir / DONE).unlink(missing_ok=True)
    (run_dir / "folds").mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(run_dir)
    remove_stale_temporaries(run_dir / "folds")
    write_text_atomic(run_dir / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    return run_dir, None


def _note_runs_on_other_data(run_dir: Path) -> None:
    key = run_dir.name.split("-")[0]
    others = sorted(p.name for p in run_dir.parent.glob(key + "*") if p.is_dir() and p != run_dir)
    if others:
        log.info("stored run(s) %s of this configuration were trained on other data (clip ids, labels, "
                 "frame indices or preparation settings differ); training a new run in %s",
                 ", ".join(others), run_dir)


def fold_file(run_dir: Path, fold: int) -> Path:
    return Path(run_dir) / "folds" / f"fold{fold:03d}.npz"


def load_fold(run_dir: Path, fold: int, data: TrainData) -> FoldResult:
    """A stored fold, checked to be readable and to be the fold ``data`` defines (DamagedRunError)."""
    path = fold_file(run_dir, fold)
    result = FoldResult.load(path)
    subject = data.fold_subjects[fold]
    if result.fold != fold or result.subject != subject or \
            not np.array_equal(result.test_index, data.subject_index(subject, test=True)):
        raise DamagedRunError(path, f"holds fold {result.fold} ({result.subject}), not fold {fold} ({subject})")
    return result


def stored_folds(run_dir: Path, data: TrainData) -> dict[int, FoldResult]:
    """The folds already saved in ``run_dir`` that read back whole; a damaged fold file is reported
    by path and left out (its fold is trained again and the file replaced)."""
    done = {}
    for f in range(len(data.fold_subjects)):
        if not fold_file(run_dir, f).exists():
            continue
        try:
            done[f] = load_fold(run_dir, f, data)
        except DamagedRunError as err:
            log.warning("fold file damaged, fold %d is trained again: %s", f, err)
    return done


def train_folds(cfg: Config, data: TrainData, folds: list[int], trainer: str = "fast",
                fold_chunk: int | None = None, on_step=None, on_folds=None, prefix=None,
                sparse: bool = True) -> list[FoldResult]:
    """Train ``folds`` of a run; ``on_folds(results)`` is called after each chunk (to save them).

    The fast trainer trains ``fold_chunk`` folds at once (default: all); ``prefix`` is its visual
    prefix cache, computed here when not given; ``sparse``: its last visual block only where LSI
    reads it (exact). This is the one training loop behind :func:`run_loso`.
    """
    if trainer not in ("fast", "reference"):
        raise ValueError(f"trainer must be 'fast' or 'reference', not {trainer!r}")
    chunk = fold_chunk or len(folds) or 1
    out = []
    for start in range(0, len(folds), chunk):
        group = folds[start : start + chunk]
        step = (lambda loss, n=1, g=group: on_step(loss, n, g)) if on_step else None
        if trainer == "fast":
            from .common import build_model
            from .fast import train_folds_fast, visual_prefix_cache

            if prefix is None:
                prefix = visual_prefix_cache(build_model(cfg, data.aus).to(cfg.device), data.images)
            results = train_folds_fast(cfg, data, group, on_step=step, prefix_cache=prefix, sparse=sparse)
        else:
            from .reference import train_fold_reference

            results = [train_fold_reference(cfg, data, f, on_step=step) for f in group]
        if on_folds:
            on_folds(results)
        out.extend(results)
    return out


def save_folds(run_dir: Path, results: list[FoldResult]) -> None:
    for r in results:
        r.save(fold_file(run_dir, r.fold))


def finish_run(cfg: Config, data: TrainData, run_dir: Path, trainer: str, timings: dict,
               folds: dict[int, FoldResult] | None = None) -> RunResult:
    """Assemble a run whose folds are all saved: write its outputs, then ``DONE`` with checksums."""
    folds = dict(folds or {})
    n = len(data.fold_subjects)
    missing = []
    for f in range(n):
        if f not in folds:
            try:
                folds[f] = load_fold(run_dir, f, data)
            except FileNotFoundError:
                missing.append(f)
    if missing:
        raise RuntimeError(f"{len(missing)} fold(s) of {run_dir} not trained yet; run again to resume")
    result = _assemble(cfg, data, [folds[f] for f in range(n)], run_dir, trainer, timings)
    write_done(run_dir, list(OUTPUTS))
    return result


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
    ``data`` replaces loading (the run directory is then keyed by that data's digest).
    """
    if trainer not in ("fast", "reference"):
        raise ValueError(f"trainer must be 'fast' or 'reference', not {trainer!r}")
    run_dir, finished = open_run(cfg, runs_dir, data=data, force=force)
    if finished is not None:
        return finished

    t0 = time.perf_counter()
    if data is None:
        data = load_train_data(cfg, progress=progress)
        if run_dir_for(cfg, runs_dir, data=data) != run_dir:
            raise RuntimeError(f"the data of {cfg.dataset} changed while the run in {run_dir} was starting "
                               "(was the coding sheet being edited?); run the command again")
    data.to(cfg.device)
    subjects = data.fold_subjects
    stored = stored_folds(run_dir, data)
    todo = [f for f in range(len(subjects)) if f not in stored]
    if stored:
        log.info("resuming %s: %d of %d folds already done", run_dir.name, len(stored), len(subjects))
    if max_folds is not None:
        todo = todo[:max_folds]

    total_steps = sum(
        len(epoch_batches(len(data.subject_index(subjects[f], test=False)), cfg.batch_size, cfg.seed, f, 0))
        for f in todo
    ) * cfg.epochs
    bar = _progress(total_steps, progress, f"LOSO {cfg.dataset} {cfg.variant}")

    def on_step(loss, n, group):
        bar.update(n)
        bar.set_postfix_str(f"folds {group[0] + 1}-{group[-1] + 1}/{len(subjects)} loss {loss:.3f}",
                            refresh=False)

    t_train = time.perf_counter()
    trained = train_folds(cfg, data, todo, trainer=trainer, fold_chunk=fold_chunk, on_step=on_step,
                          on_folds=lambda results: save_folds(run_dir, results))
    bar.close()
    train_seconds = time.perf_counter() - t_train
    if max_folds is not None and len(stored) + len(trained) < len(subjects):
        raise RuntimeError(f"{len(subjects) - len(stored) - len(trained)} fold(s) not trained yet "
                           f"(max_folds={max_folds}); run again to resume")
    return finish_run(cfg, data, run_dir, trainer,
                      timings={"total_s": time.perf_counter() - t0, "train_s": train_seconds},
                      folds={**stored, **{r.fold: r for r in trained}})


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

    scored = data.scored()  # LOSO: every clip; across sets: the tested clips with coded AUs
    tested = np.zeros(M, bool)
    for f in folds:
        tested[f.test_index] = True
    rows = []
    for i in np.flatnonzero(scored):
        for n in range(N):
            rows.append((data.ids[i], data.subjects[i], fold_of[i], names[n], int(labels[i, n]),
                         float(probs[i, n]), int(preds[i, n])))
    predictions = pd.DataFrame(rows, columns=["id", "subject", "fold", "au", "label", "prob", "pred"])
    metrics = au_metrics(labels[scored], preds[scored], names) if scored.any() else no_au_metrics(names)

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
    if not tested.all():  # across sets: only the clips a fold tested
        mer = mer[tested].reset_index(drop=True)
    if "pred" in mer:
        keep = mer.emotion3 != ""
        mer_result = {"available": True, **mer_metrics(mer.emotion3[keep].tolist(), mer.pred[keep].tolist(),
                                                       EMOTION3_CLASSES)}
    mer_result["text_similarity"] = text_si

    run_dir.mkdir(parents=True, exist_ok=True)
    write_csv_atomic(run_dir / "predictions.csv", predictions)
    write_csv_atomic(run_dir / "metrics.csv", metrics)
    write_csv_atomic(run_dir / "mer.csv", mer)
    write_json_atomic(run_dir / "mer_metrics.json", mer_result)
    write_npz_atomic(run_dir / "arrays.npz", **arrays)
    meta = {
        "source": data.source,
        "dataset": data.dataset,
        "n_clips": M,
        "n_subjects": len(set(data.subjects)),
        "aus": list(aus),
        "data_fingerprint": data.fingerprint() if data.images.device.type == "cpu" else None,
        "data_digest": digest_of(data),
        "prep_fallbacks": data.fallbacks,
        "trainer": trainer,
        "epoch_loss_mean": np.mean([f.epoch_loss for f in folds], axis=0).tolist(),
        "timings": timings,
        "versions": _versions(),
        "git_commit": _git_commit(),
        "device": cfg.device,
    }
    if data.groups is not None:  # a composite: what its folds were
        meta.update(holdout=cfg.holdout, folds=data.fold_subjects, n_scored=int(scored.sum()))
    write_json_atomic(run_dir / "meta.json", meta)
    write_text_atomic(run_dir / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
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
