"""The data sets microau knows: their names, which are simulated, where their clips live, which
samples a run sees and how they are prepared. Every command and module asks here."""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ..prep.pipeline import PrepSettings
    from .spec import SheetSpec
    from .types import Sample

BASE_DATASETS: tuple[str, ...] = ("casme2", "samm")
PHANTOM_PREFIX = "phantom-"
PHANTOMS: tuple[str, ...] = tuple(PHANTOM_PREFIX + b for b in BASE_DATASETS)
DATASETS: tuple[str, ...] = (*BASE_DATASETS, *PHANTOMS)
DEFAULT_DATASETS: tuple[str, ...] = PHANTOMS  # what the book and the commands use without --root
PHANTOM_SEED = 0  # the phantom every run and page uses

# Testbed controls (issue 22): phantoms without the structure one mechanism relies on, named
# '<phantom>-<control>' and written by the same writer in the same layout. 'indep': each selected
# AU's labels permuted across clips on their own (same per-AU counts, no co-occurrence; for GDA).
# 'offsite': every AU's motion moved off the Table I landmarks (for PTA).
CONTROLS: dict[str, dict] = {
    "indep": {"label_structure": "independent"},
    "offsite": {"motion_anchor": "offsite"},
}
CONTROL_BASES: tuple[str, ...] = ("casme2", "samm")
CONTROL_PHANTOMS: tuple[str, ...] = tuple(
    f"{PHANTOM_PREFIX}{b}-{c}" for b in CONTROL_BASES for c in CONTROLS)
DATASETS = (*DATASETS, *CONTROL_PHANTOMS)


def control_of(dataset: str) -> str | None:
    """The control a phantom name asks for ('indep', 'offsite'), or None (a plain phantom or a
    licensed set)."""
    if dataset in CONTROL_PHANTOMS:
        return dataset.rsplit("-", 1)[1]
    return None


def phantom_settings(dataset: str):
    """The PhantomSettings a phantom data set is written with (the default for a plain phantom)."""
    from .phantom import PhantomSettings

    if not is_phantom(check(dataset)):
        raise ValueError(f"{dataset!r} is not a phantom data set")
    return PhantomSettings(**CONTROLS.get(control_of(dataset) or "", {}))


def phantom_root(dataset: str, seed: int = PHANTOM_SEED, n_subjects: int | None = None,
                 progress: bool = False) -> Path:
    """The cache folder of a phantom data set (its control's own folder), written on first use."""
    from .phantom import ensure_phantom

    from .phantom.layouts import ensure_any_phantom

    control = control_of(check(dataset))
    if not control:  # the plain phantom (any layout): default settings, the folder it always had
        return Path(ensure_any_phantom(base_dataset(dataset), seed=seed, n_subjects=n_subjects,
                                       progress=progress))
    return Path(ensure_phantom(base_dataset(dataset), seed=seed, n_subjects=n_subjects, progress=progress,
                               variant=control, settings=phantom_settings(dataset)))


def check(dataset: str) -> str:
    """The name itself, or a ValueError that lists the known names. A composite of several
    distinct known sets joined by '+' ('casme2+samm') is a name too."""
    parts = dataset.split(COMPOSITE_SEP)
    known = all(p in DATASETS for p in parts) and len(set(parts)) == len(parts)
    if dataset not in DATASETS and not (len(parts) > 1 and known):
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}, or "
                         "several distinct ones joined by '+' (e.g. casme2+samm)")
    return dataset


def is_phantom(dataset: str) -> bool:
    """True for the simulated copies ('phantom-casme2', 'phantom-samm', their controls, the other
    sets' phantoms), and composites of them."""
    return all(p.startswith(PHANTOM_PREFIX) for p in dataset.split(COMPOSITE_SEP))


def base_dataset(dataset: str) -> str:
    """'phantom-samm' -> 'samm', 'phantom-casme2-indep' -> 'casme2', 'casme2' -> 'casme2': the
    real set a name is, or imitates (part by part for a composite)."""
    out = []
    for p in dataset.split(COMPOSITE_SEP):
        control = control_of(p)
        if control:
            p = p.removesuffix(f"-{control}")
        out.append(p.removeprefix(PHANTOM_PREFIX))
    return COMPOSITE_SEP.join(out)


def phantom_of(base: str) -> str:
    return PHANTOM_PREFIX + base


def source_of(dataset: str) -> str:
    """What numbers computed on ``dataset`` are labelled with: 'phantom' or the data set's key."""
    if is_composite(dataset) and not is_phantom(dataset):
        return COMPOSITE_SEP.join(dict.fromkeys(source_of(p) for p in parts(dataset)))
    return "phantom" if is_phantom(dataset) else dataset


def root_for_name(dataset: str, data_root: str | Path | None = None, n_subjects: int | None = None,
                  progress: bool = False) -> Path:
    """The folder that holds ``dataset``'s coding sheet and frames.

    A phantom is written to the cache on first use (``data_root`` overrides where it is read);
    a licensed set needs ``data_root``.
    """
    check(dataset)
    if is_composite(dataset):
        need = [p for p in parts(dataset) if not is_phantom(p)]
        raise FileNotFoundError(
            f"{dataset!r} joins several data sets, each in its own folder: give one per licensed "
            f"part ({', '.join(f'--root {p}=DIR' for p in need) or 'none needed'})")
    if data_root:
        return Path(data_root)
    if is_phantom(dataset):
        return phantom_root(dataset, n_subjects=n_subjects, progress=progress)
    raise FileNotFoundError(
        f"dataset {dataset!r} is licensed data: give the folder of your copy, which holds its coding "
        f"sheet and frames (--root {dataset}=/data/{dataset.upper()} on the command line, or "
        f"data_root={{'{dataset}': '/data/{dataset.upper()}'}} in a notebook)")


def root_for(cfg, progress: bool = False) -> Path:
    """:func:`root_for_name` for a run's config."""
    return root_for_name(cfg.dataset, cfg.data_root, cfg.n_subjects, progress=progress)


def root_from_map(dataset: str, data_root: dict | None) -> str | None:
    """The root a ``{dataset: DIR}`` map gives a data set (keyed by its name or its base name);
    None for a phantom, which lives in the cache."""
    if is_phantom(dataset) or not data_root:
        return None
    if is_composite(dataset):
        roots = {p: root_from_map(p, data_root) for p in parts(dataset) if not is_phantom(p)}
        return None if not all(roots.values()) else json.dumps(roots, sort_keys=True)
    return data_root.get(dataset) or data_root.get(base_dataset(dataset))


def sheet_spec(base: str) -> "SheetSpec":
    """How the real data set ``base`` ('casme2', 'samm', 'casme3', ...) is distributed: its
    reader's spec."""
    from . import casme1, casme2, casme3, fourdme, mmew, samm, smic

    specs = {"casme2": casme2.SPEC, "samm": samm.SPEC, "casme3": casme3.SPEC, "casme": casme1.SPEC,
             "4dme": fourdme.SPEC, "mmew": mmew.SPEC, "smic": smic.SPEC}
    if base not in specs:
        raise ValueError(f"unknown data set layout {base!r}; choose one of {', '.join(specs)}")
    return specs[base]


def read_base(base: str, root: str | Path, layout: str = "auto", dataset: str | None = None
              ) -> list["Sample"]:
    """Samples of a copy of ``base`` under ``root``, named ``dataset`` (``base`` when None)."""
    from .read_once import read_samples_once

    return read_samples_once(sheet_spec(base), root, layout=layout, dataset=dataset or base)


def load_samples(dataset: str, root: str | Path, layout: str = "auto") -> list["Sample"]:
    """Read a data set's coding sheet and frame tree into Samples, sorted by (subject, clip).

    The phantom is written in the real layout and read by the same reader; only
    ``Sample.dataset`` differs. ``layout``: CASME II 'auto' | 'raw' | 'cropped'; SAMM 'auto' |
    'nested' | 'flat'.
    """
    if is_composite(check(dataset)):
        raise ValueError(f"{dataset!r} joins several data sets: load each part with its own root "
                         "(microau.train.composite reads them together)")
    return read_base(base_dataset(dataset), root, layout=layout, dataset=dataset)


def keep_subjects(samples: list["Sample"], n_subjects: int | None) -> list["Sample"]:
    """The samples of the first ``n_subjects`` subjects in sorted order (all when None)."""
    if not n_subjects:
        return list(samples)
    keep = set(sorted({s.subject for s in samples})[: int(n_subjects)])
    return [s for s in samples if s.subject in keep]


def samples_for(cfg, progress: bool = False) -> list["Sample"]:
    """The samples a run of ``cfg`` trains and tests on (its data set, after the subject subset)."""
    return keep_subjects(load_samples(cfg.dataset, root_for(cfg, progress=progress)), cfg.n_subjects)


def prep_settings_for(cfg) -> "PrepSettings":
    """How a run's clips are prepared: magnification as configured, everything else default."""
    from ..prep.pipeline import PrepSettings

    return PrepSettings(magnify=cfg.magnify, learned_checkpoint=cfg.magnify_checkpoint,
                        on_unreadable=getattr(cfg, "on_damaged_frame", "error"))


def data_key(cfg) -> tuple:
    """The settings that decide a run's prepared data (the model's input side included, since the
    flow images are resized to it): runs with equal keys share their data."""
    from ..model.configs import model_image_size

    return (cfg.dataset, cfg.data_root, cfg.n_subjects, cfg.magnify, cfg.magnify_checkpoint,
            getattr(cfg, "on_damaged_frame", "error"), getattr(cfg, "holdout", "subject"),
            model_image_size(cfg.clip_model))


# --------------------------------------------------------------------------- beyond the paper
# The other AU-coded (and one emotion-coded) micro-expression sets (issue 25). Their readers'
# specs live in casme3.py, casme1.py, fourdme.py, mmew.py and smic.py; each has a phantom written
# in its layout (microau.data.phantom.layouts).
OTHER_DATASETS: tuple[str, ...] = ("casme3", "casme", "4dme", "mmew", "smic")
OTHER_PHANTOMS: tuple[str, ...] = tuple(PHANTOM_PREFIX + b for b in OTHER_DATASETS)
DATASETS = (*DATASETS, *OTHER_DATASETS, *OTHER_PHANTOMS)
EMOTION_ONLY: tuple[str, ...] = ("smic",)  # sets that code emotions, no AUs (label-free MER only)
COMPOSITE_SEP = "+"  # 'casme2+samm': several sets read together
SUBJECT_SEP = ":"  # a composite's subject ids: '<set>:<subject>' (CASME and CASME II both have 'sub01')


def is_composite(dataset: str) -> bool:
    return COMPOSITE_SEP in dataset


def parts(dataset: str) -> tuple[str, ...]:
    """The data sets a name reads: itself, or each part of a composite ('casme2+samm')."""
    return tuple(check(dataset).split(COMPOSITE_SEP))


def is_au_coded(dataset: str) -> bool:
    """False for a set that codes emotions only (SMIC and its phantom)."""
    return all(base_dataset(p) not in EMOTION_ONLY for p in dataset.split(COMPOSITE_SEP))


def composite_subject(dataset: str, subject: str) -> str:
    """A subject's id in a composite: prefixed by its set ('casme2:sub01')."""
    return f"{dataset}{SUBJECT_SEP}{subject}"


def part_of_subject(subject: str) -> str:
    """The set a composite's subject id belongs to ('casme2:sub01' -> 'casme2')."""
    return subject.split(SUBJECT_SEP, 1)[0]


def part_roots(dataset: str, data_root: str | None) -> dict[str, str | None]:
    """Each part's root, from the root a composite's config carries (a JSON map of the licensed
    parts' folders; None for a phantom part)."""
    if not is_composite(dataset):
        return {dataset: data_root}
    roots = json.loads(data_root) if data_root else {}
    return {p: roots.get(p) for p in parts(dataset)}


def evaluated_aus(dataset: str) -> tuple[int, ...]:
    """The AUs a run on ``dataset`` detects and is scored on.

    CASME II and SAMM: the paper's selection (``microau.aus.DATASET_AUS``). The other AU-coded
    sets: the cross-set AUs of ``microau.aus.CROSS_SET_AUS`` that have a Table I landmark group
    (the model reads each AU at its landmarks). A composite: the AUs every AU-coded part
    evaluates (its emotion-only parts are only ever tested, for label-free MER). An emotion-only
    set alone: a ValueError saying what it serves.
    """
    from ..aus import AU_LANDMARKS, CROSS_SET_AUS, DATASET_AUS

    if is_composite(check(dataset)):
        coded = [p for p in parts(dataset) if is_au_coded(p)]
        if not coded:
            raise ValueError(f"{dataset!r}: no part codes action units; train on an AU-coded set")
        lists = [evaluated_aus(p) for p in coded]
        return tuple(a for a in CROSS_SET_AUS if all(a in lst for lst in lists))
    base = base_dataset(dataset)
    if not is_au_coded(dataset):
        from .smic import NOT_AU_CODED

        raise ValueError(f"{dataset}: {NOT_AU_CODED}")
    if base in DATASET_AUS:
        return DATASET_AUS[base]
    return tuple(a for a in CROSS_SET_AUS if a in AU_LANDMARKS)


def part_configs(cfg) -> list:
    """One config per part of a composite's run (its name, its own root); ``[cfg]`` otherwise."""
    if not is_composite(cfg.dataset):
        return [cfg]
    roots = part_roots(cfg.dataset, cfg.data_root)
    return [cfg.replace(dataset=p, data_root=roots[p], holdout="subject") for p in parts(cfg.dataset)]
