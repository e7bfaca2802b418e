"""The data sets microau knows: their names, which are simulated, where their clips live, which
samples a run sees and how they are prepared. Every command and module asks here."""
from __future__ import annotations

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


def check(dataset: str) -> str:
    """The name itself, or a ValueError that lists the known names."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    return dataset


def is_phantom(dataset: str) -> bool:
    """True for the simulated copies ('phantom-casme2', 'phantom-samm')."""
    return dataset.startswith(PHANTOM_PREFIX)


def base_dataset(dataset: str) -> str:
    """'phantom-samm' -> 'samm', 'casme2' -> 'casme2': the real set a name is, or imitates."""
    return dataset.removeprefix(PHANTOM_PREFIX)


def phantom_of(base: str) -> str:
    return PHANTOM_PREFIX + base


def source_of(dataset: str) -> str:
    """What numbers computed on ``dataset`` are labelled with: 'phantom' or the data set's key."""
    return "phantom" if is_phantom(dataset) else dataset


def root_for_name(dataset: str, data_root: str | Path | None = None, n_subjects: int | None = None,
                  progress: bool = False) -> Path:
    """The folder that holds ``dataset``'s coding sheet and frames.

    A phantom is written to the cache on first use (``data_root`` overrides where it is read);
    a licensed set needs ``data_root``.
    """
    check(dataset)
    if data_root:
        return Path(data_root)
    if is_phantom(dataset):
        from .phantom import ensure_phantom

        return Path(ensure_phantom(base_dataset(dataset), seed=PHANTOM_SEED, n_subjects=n_subjects,
                                   progress=progress))
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
    return data_root.get(dataset) or data_root.get(base_dataset(dataset))


def sheet_spec(base: str) -> "SheetSpec":
    """How the real data set ``base`` ('casme2' or 'samm') is distributed: its reader's spec."""
    from . import casme2, samm

    specs = {"casme2": casme2.SPEC, "samm": samm.SPEC}
    if base not in specs:
        raise ValueError(f"unknown data set layout {base!r}; choose 'casme2' or 'samm'")
    return specs[base]


def read_base(base: str, root: str | Path, layout: str = "auto", dataset: str | None = None
              ) -> list["Sample"]:
    """Samples of a copy of ``base`` under ``root``, named ``dataset`` (``base`` when None)."""
    from .reader import read_samples

    return read_samples(sheet_spec(base), root, layout=layout, dataset=dataset or base)


def load_samples(dataset: str, root: str | Path, layout: str = "auto") -> list["Sample"]:
    """Read a data set's coding sheet and frame tree into Samples, sorted by (subject, clip).

    The phantom is written in the real layout and read by the same reader; only
    ``Sample.dataset`` differs. ``layout``: CASME II 'auto' | 'raw' | 'cropped'; SAMM 'auto' |
    'nested' | 'flat'.
    """
    return read_base(base_dataset(check(dataset)), root, layout=layout, dataset=dataset)


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
    """The settings that decide a run's prepared data: runs with equal keys share their data."""
    return (cfg.dataset, cfg.data_root, cfg.n_subjects, cfg.magnify, cfg.magnify_checkpoint,
            getattr(cfg, "on_damaged_frame", "error"))
