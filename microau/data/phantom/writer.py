"""Writing a phantom set: staging folder, frames, sheet, ground truth, marker; the cache default."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from .folder import MARKER, check_out_folder, new_stage, publish, record_files
from .labels import au_string, plan_labels
from ...forkpool import available_cores, fork_map
from .render import base_faces, make_subject, render_clip
from .settings import PHANTOM_VERSION, PhantomSettings, norm_like, phantom_rng
from .sheets import frame_path, sheet_name, write_sheet

TRUTH_FILE = "phantom_truth.jsonl"


def workers() -> int:
    """Processes that render a phantom: ``$MICROAU_PHANTOM_WORKERS``, else one per core."""
    return int(os.environ.get("MICROAU_PHANTOM_WORKERS") or available_cores())


def _cache_root() -> Path:
    return Path(os.environ.get("MICROAU_CACHE") or Path.home() / ".cache" / "microau")


def default_phantom_root(like: str, seed: int = 0, n_subjects: int | None = None,
                         variant: str | None = None) -> Path:
    """``$MICROAU_CACHE/phantom/<like>[-<variant>]-seed<seed>-<all|kSubj>`` (default cache
    ``~/.cache/microau``); ``variant`` names a control set (the registry's ``control_of``)."""
    like = norm_like(like)
    tag = "all" if n_subjects is None else f"{int(n_subjects)}subj"
    name = f"{like}-{variant}" if variant else like
    return _cache_root() / "phantom" / f"{name}-seed{int(seed)}-{tag}"


def _marker_content(like, seed, n_subjects, settings) -> dict:
    return {
        "phantom_version": PHANTOM_VERSION, "like": like, "seed": int(seed),
        "n_subjects": None if n_subjects is None else int(n_subjects),
        "settings_digest": settings.digest(),
    }


def is_complete(out_dir: Path, like: str, seed: int = 0, n_subjects: int | None = None,
                settings: PhantomSettings | None = None) -> bool:
    """True when ``out_dir`` holds the finished phantom of exactly these arguments."""
    marker = Path(out_dir) / MARKER
    if not marker.is_file():
        return False
    try:
        content = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return content == _marker_content(norm_like(like), seed, n_subjects, settings or PhantomSettings())


def legacy_files(out: Path) -> list[str]:
    """What a phantom written before the file list existed holds in ``out``: its fixed files and
    the onset/apex frames its ground truth names (relative paths)."""
    like = norm_like(json.loads((out / MARKER).read_text())["like"])
    files = [MARKER, "README.txt", "phantom_settings.json", TRUTH_FILE, sheet_name(like)]
    for t in read_truth(out):
        files += [frame_path(Path(), like, t["subject"], t["clip"], t[k]).as_posix()
                  for k in ("onset_frame", "apex_frame")]
    return files


def _write_jpeg(path: Path, img: np.ndarray, quality: int) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    arr = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), arr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)]):
        raise OSError(f"could not write {path}")


def write_phantom(like: str, out_dir, seed: int = 0, n_subjects: int | None = None,
                  settings: PhantomSettings | None = None, progress: bool = True) -> Path:
    """Write a phantom set in the real layout of ``like`` ('casme2' or 'samm') under ``out_dir``.

    ``n_subjects`` keeps the first k subjects (identical to the same subjects of the full set).
    A completion marker makes a re-run with the same arguments return at once; with other
    arguments only the files the phantom wrote there are replaced (see :mod:`.folder`), and a
    non-empty folder that is not a phantom's is refused. The set is written into a staging folder
    next to ``out_dir`` and moved in when complete, so an interrupted run never leaves a set that
    looks complete, and two processes writing the same set do not mix their files.
    """
    from tqdm.auto import tqdm

    like = norm_like(like)
    settings = settings or PhantomSettings()
    out = Path(out_dir)
    if is_complete(out, like, seed, n_subjects, settings):
        return out
    check_out_folder(out, legacy_files)
    plans = plan_labels(like, seed, settings)
    if n_subjects is not None:
        if not 1 <= n_subjects <= len(plans):
            raise ValueError(f"n_subjects must be in 1..{len(plans)}, got {n_subjects}")
        plans = plans[:n_subjects]
    stage = new_stage(out)
    try:
        _write_set(stage, like, seed, n_subjects, settings, plans, tqdm, progress)
        if not is_complete(out, like, seed, n_subjects, settings):  # else: another process did it
            try:
                publish(stage, out, legacy_files)
            except OSError:  # a process writing the same set moved its copy in first
                if not is_complete(out, like, seed, n_subjects, settings):
                    raise
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)
    return out


def _write_subject(job) -> list[tuple]:
    """One subject's frames, written under ``out``; its (plan, AU cell, truth) per clip."""
    out, like, seed, settings, sub_plans = job
    done = []
    subj = make_subject(like, seed, sub_plans[0].subject_index, settings)
    for plan in sub_plans:
        clip = render_clip(subj, plan, seed, settings)
        _write_jpeg(frame_path(out, like, plan.subject, plan.clip, plan.onset_frame), clip.onset,
                    settings.jpeg_quality)
        _write_jpeg(frame_path(out, like, plan.subject, plan.clip, plan.apex_frame), clip.apex,
                    settings.jpeg_quality)
        srng = phantom_rng(seed, like, 6, plan.subject_index, plan.clip_index)
        strength = {int(k): v / max(1e-6, settings.max_amplitude_px)
                    for k, v in clip.truth["amplitude_px"].items()}
        letter_p = settings.intensity_letter_prob if like == "samm" else 0.0
        aus = au_string(plan, srng, letter_p, strength)
        truth = dict(clip.truth)
        truth.update(onset_frame=plan.onset_frame, apex_frame=plan.apex_frame, au_string=aus)
        done.append((plan, aus, truth))
    return done


def _write_set(out: Path, like, seed, n_subjects, settings, plans, tqdm, progress) -> None:
    n_clips = sum(len(p) for p in plans)
    bar = tqdm(total=n_clips, desc=f"phantom ({like})", unit="clip", disable=not progress)
    base_faces()  # found once here; forked workers inherit them
    # subjects are independent (each draws from its own random streams), so they are rendered
    # side by side; the files and the order of rows are the same with any number of workers
    jobs = [(out, like, seed, settings, sub) for sub in plans if sub]
    per_subject = fork_map(_write_subject, jobs, workers(), on_result=lambda i, r: bar.update(len(r)))
    bar.close()
    rows = [(plan, aus) for done in per_subject for plan, aus, _ in done]
    truths = [truth for done in per_subject for _, _, truth in done]
    write_sheet(out / sheet_name(like), like, rows)
    with open(out / TRUTH_FILE, "w") as fh:
        for t in truths:
            fh.write(json.dumps(t) + "\n")
    (out / "README.txt").write_text(
        f"PHANTOM data (simulated, not {'CASME II' if like == 'casme2' else 'SAMM'}), written by "
        f"microau.data.phantom (version {PHANTOM_VERSION}, seed {seed}).\n"
        "Faces: matplotlib's grace_hopper.jpg and scikit-image's astronaut, warped per subject.\n"
        f"Ground truth per clip (AU amplitudes, onset landmarks): {TRUTH_FILE}.\n"
    )
    content = _marker_content(like, seed, n_subjects, settings)
    # the full settings are kept for the record; the marker holds the fields compared on re-run
    (out / "phantom_settings.json").write_text(
        json.dumps(dict(content, settings=settings.to_json(), n_clips=len(rows)), indent=1))
    record_files(out)
    (out / MARKER).write_text(json.dumps(content, indent=1))


def ensure_phantom(like: str, seed: int = 0, n_subjects: int | None = None,
                   progress: bool = False, variant: str | None = None,
                   settings: PhantomSettings | None = None) -> Path:
    """The phantom under the cache directory, written on first use (quietly unless
    ``progress``): default settings, or a control ``variant`` with its ``settings``."""
    return write_phantom(like, default_phantom_root(like, seed, n_subjects, variant), seed=seed,
                         n_subjects=n_subjects, settings=settings, progress=progress)


def read_truth(root) -> list[dict]:
    """The per-clip ground truth a phantom root holds (``phantom_truth.jsonl``)."""
    with open(Path(root) / TRUTH_FILE) as fh:
        return [json.loads(line) for line in fh if line.strip()]
