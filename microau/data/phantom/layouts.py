"""The phantom in the layouts of the sets beyond CASME II and SAMM (CAS(ME)^3 Part A, CASME, 4DME,
MMEW, SMIC): each set's sheet (its columns, cell types, AU spelling and typos) and frame tree, so
that each loader is exercised end to end.

A set's phantom reuses the CASME II-like label plans and faces (:mod:`.labels`, :mod:`.render`)
under its own seed (the source seed plus ``seed_offset``: other faces, other clips than
``phantom-casme2``), renamed to the set's subject and clip conventions. The two phantoms of the
paper are written by :mod:`.writer`, unchanged; :func:`ensure_any_phantom` serves every name.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ...aus import emotion3
from .folder import MARKER, check_out_folder, new_stage, publish, record_files
from .labels import ClipPlan, plan_labels
from .render import make_subject, render_clip
from .settings import LIKES, PHANTOM_VERSION, PhantomSettings, phantom_rng
from .writer import TRUTH_FILE, _cache_root, _write_jpeg, ensure_phantom
from . import set_sheets


@dataclass(frozen=True)
class PhantomLayout:
    """How the phantom of one set is written: names, frames, sheet and extra files."""

    name: str  # the registry's base name: 'casme3'
    seed_offset: int  # added to the seed: other faces and clips than the CASME II phantom
    layout: str  # the spec's frame layout the phantom is written in
    sheet_file: str
    rename: Callable[[list[list[ClipPlan]], np.random.Generator], list[list[ClipPlan]]]
    write_sheet: Callable[[Path, list[tuple[ClipPlan, dict]]], None]
    source: str = "casme2"  # the label statistics and faces it imitates


def _spec(name: str):
    """The reader's spec of a set (imported directly: the registry imports this module)."""
    from .. import casme1, casme3, fourdme, mmew, smic

    return {"casme3": casme3.SPEC, "casme": casme1.SPEC, "4dme": fourdme.SPEC, "mmew": mmew.SPEC,
            "smic": smic.SPEC}[name]


def frame_path(root: Path, layout: PhantomLayout, plan: ClipPlan, frame: int) -> Path:
    """Where the reader of ``layout.name`` looks for a frame of ``plan``."""
    spec = _spec(layout.name)
    folder = plan.clip.split("-")[0] if spec.distinct_ids else plan.clip
    return spec.frame_path(Path(root), layout.layout, plan.subject, folder, frame, plan.emotion)


def _shifted(plan: ClipPlan, by: int, **changes) -> ClipPlan:
    return dataclasses.replace(plan, onset_frame=plan.onset_frame + by, apex_frame=plan.apex_frame + by,
                               offset_frame=plan.offset_frame + by, **changes)


def _rename_casme3(plans, rng):
    """spNO.<k>; clips gathered into videos a, b, ... (up to three each, 400 frames apart); a
    video's clips are named as the reader names them: '<letter>-<onset>', or the letter alone."""
    out = []
    for k, sub in enumerate(plans, start=1):
        per_video = [min(3, len(sub) - 3 * (j // 3)) for j in range(len(sub))]
        clips = []
        for j, plan in enumerate(sub):
            letter, nth = "abcdefghijklmnopqrstuvwxyz"[j // 3 % 26], j % 3
            moved = _shifted(plan, 400 * nth, subject=f"spNO.{k}")
            name = letter if per_video[j] == 1 else f"{letter}-{moved.onset_frame}"
            clips.append(dataclasses.replace(moved, clip=name))
        out.append(clips)
    return out


def _rename_casme(plans, rng):
    return [[dataclasses.replace(p, subject=f"sub{k:02d}", clip=f"EP{p.clip[2:4]}_{j + 1}")
             for j, p in enumerate(sub)] for k, sub in enumerate(plans, start=1)]


def _rename_4dme(plans, rng):
    return [[dataclasses.replace(p, subject=f"S{k:02d}", clip=f"S{k:02d}_{j + 1:02d}")
             for j, p in enumerate(sub)] for k, sub in enumerate(plans, start=1)]


def _rename_mmew(plans, rng):
    return [[dataclasses.replace(p, subject=f"S{k:02d}", clip=f"{k}_{j + 1}")
             for j, p in enumerate(sub)] for k, sub in enumerate(plans, start=1)]


def _rename_smic(plans, rng):
    """Three classes; the midpoint of onset and offset is the apex (SMIC codes none)."""
    short = {"positive": "po", "negative": "ne", "surprise": "sur"}
    out = []
    for k, sub in enumerate(plans, start=1):
        clips = []
        for p in sub:
            e3 = emotion3(p.emotion)
            if e3 is None:
                continue
            n = sum(1 for c in clips if c.emotion == e3) + 1
            clips.append(dataclasses.replace(
                p, subject=f"s{k}", clip=f"s{k}_{short[e3]}_{n:02d}", emotion=e3,
                offset_frame=2 * p.apex_frame - p.onset_frame))
        out.append(clips)
    return out


LAYOUTS: dict[str, PhantomLayout] = {
    "casme3": PhantomLayout("casme3", 1000, "flat", "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx",
                            _rename_casme3, set_sheets.write_casme3),
    "casme": PhantomLayout("casme", 2000, "raw", "CASME_label_phantom.xlsx", _rename_casme,
                           set_sheets.write_casme),
    "4dme": PhantomLayout("4dme", 3000, "flat", "4DME_labelling_phantom.xlsx", _rename_4dme,
                          set_sheets.write_4dme),
    "mmew": PhantomLayout("mmew", 4000, "micro", "MMEW_Micro_Exp_phantom.xlsx", _rename_mmew,
                          set_sheets.write_mmew),
    "smic": PhantomLayout("smic", 5000, "hs", "SMIC_HS_phantom.xlsx", _rename_smic, set_sheets.write_smic),
}


def phantom_layout(name: str) -> PhantomLayout:
    if name not in LAYOUTS:
        raise ValueError(f"no phantom layout {name!r}; choose one of {', '.join((*LIKES, *LAYOUTS))}")
    return LAYOUTS[name]


def default_root(name: str, seed: int = 0, n_subjects: int | None = None) -> Path:
    tag = "all" if n_subjects is None else f"{int(n_subjects)}subj"
    return _cache_root() / "phantom" / f"{name}-seed{int(seed)}-{tag}"


def _marker(layout: PhantomLayout, seed: int, n_subjects, settings: PhantomSettings) -> dict:
    return {"phantom_version": PHANTOM_VERSION, "like": layout.name, "source": layout.source,
            "seed": int(seed), "n_subjects": None if n_subjects is None else int(n_subjects),
            "settings_digest": settings.digest()}


def _complete(out: Path, content: dict) -> bool:
    try:
        return json.loads((out / MARKER).read_text()) == content
    except (OSError, ValueError):
        return False


def write_layout_phantom(name: str, out_dir, seed: int = 0, n_subjects: int | None = None,
                         settings: PhantomSettings | None = None, progress: bool = True) -> Path:
    """Write the phantom of ``name`` ('casme3', 'casme', '4dme', 'mmew', 'smic') in that set's
    layout under ``out_dir``: staged next to it and moved in when complete, as :mod:`.writer` does
    (a re-run with the same arguments returns at once; a folder that is not a phantom's is refused)."""
    from tqdm.auto import tqdm

    layout = phantom_layout(name)
    settings = settings or PhantomSettings()
    out = Path(out_dir)
    content = _marker(layout, seed, n_subjects, settings)
    if _complete(out, content):
        return out
    check_out_folder(out)
    source_seed = int(seed) + layout.seed_offset
    plans = plan_labels(layout.source, source_seed, settings)
    if n_subjects is not None:
        if not 1 <= n_subjects <= len(plans):
            raise ValueError(f"n_subjects must be in 1..{len(plans)}, got {n_subjects}")
        plans = plans[:n_subjects]
    plans = layout.rename(plans, phantom_rng(source_seed, layout.source, 7))
    stage = new_stage(out)
    try:
        bar = tqdm(total=sum(map(len, plans)), desc=f"phantom ({name})", unit="clip", disable=not progress)
        rows, truths = [], []
        for sub in plans:
            if not sub:
                continue
            subject = make_subject(layout.source, source_seed, sub[0].subject_index, settings)
            for plan in sub:
                clip = render_clip(subject, plan, source_seed, settings)
                for frame, img in ((plan.onset_frame, clip.onset), (plan.apex_frame, clip.apex)):
                    _write_jpeg(frame_path(stage, layout, plan, frame), img, settings.jpeg_quality)
                truth = dict(clip.truth, onset_frame=plan.onset_frame, apex_frame=plan.apex_frame)
                rows.append((plan, truth))
                truths.append(truth)
                bar.update(1)
        bar.close()
        layout.write_sheet(stage / layout.sheet_file, rows)
        set_sheets.write_extras(stage, layout.name, rows, lambda p, f: frame_path(stage, layout, p, f))
        with open(stage / TRUTH_FILE, "w") as fh:
            for t in truths:
                fh.write(json.dumps(t) + "\n")
        (stage / "README.txt").write_text(
            f"PHANTOM data (simulated, not {_spec(name).what}), written by microau.data.phantom "
            f"(version {PHANTOM_VERSION}, seed {seed}) in the layout of {_spec(name).what}.\n"
            f"Ground truth per clip: {TRUTH_FILE} (what the reader should return).\n")
        (stage / "phantom_settings.json").write_text(
            json.dumps(dict(content, settings=settings.to_json(), n_clips=len(rows)), indent=1))
        record_files(stage)
        (stage / MARKER).write_text(json.dumps(content, indent=1))
        if not _complete(out, content):
            try:
                publish(stage, out)
            except OSError:
                if not _complete(out, content):
                    raise
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)
    return out


def ensure_any_phantom(name: str, seed: int = 0, n_subjects: int | None = None,
                       progress: bool = False) -> Path:
    """The default phantom of any set (``casme2``, ``samm`` or one of :data:`LAYOUTS`) under the
    cache directory, written on first use."""
    if name in LIKES:
        from ...data import phantom  # looked up at call time (tests replace phantom.ensure_phantom)

        return phantom.ensure_phantom(name, seed=seed, n_subjects=n_subjects, progress=progress)
    return write_layout_phantom(name, default_root(name, seed, n_subjects), seed=seed,
                                n_subjects=n_subjects, progress=progress)
