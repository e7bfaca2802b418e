"""LOSO runs: where they live, how one is named, how missing ones get trained, how they are read.

Data flows one way: clips -> prepared arrays -> runs -> tables and figures -> pages. This module is
the runs step. :func:`ensure_runs` is the one place that trains; ``microau reproduce``,
``microau loso`` and the notebooks (through :func:`load_runs`) all go through it. Everything after
it only reads runs back.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .config import Config, make_config
from .data import registry
from .paths import repo_root, runs_dir  # noqa: F401 (re-exported: the one default for runs)
from .stages import StageClock
from .train.data import load_train_data, prepare_for
from .train.group import group_configs, train_run_group
from .train.loso import RunResult, run_dir_for, run_loso  # noqa: F401 (run_dir_for re-exported)
from .train.loso import is_finished as run_is_finished

log = logging.getLogger(__name__)

EXECUTORS = ("local", "ray")


def make_run_config(profile: str, variant: str, dataset: str, data_root: dict | None = None,
                    device: str = "cpu", **overrides) -> Config:
    """The config of one run. ``data_root`` maps data set -> folder (licensed data only; a
    phantom lives in the cache). ``overrides`` are Config fields (None keeps the profile's;
    ``pretrained='none'`` asks for random initialisation)."""
    registry.check(dataset)
    root = registry.root_from_map(dataset, data_root)
    if not registry.is_phantom(dataset) and not root:
        registry.root_for_name(dataset)  # raises the error that says how to pass the folder
    random_init = str(overrides.get("pretrained", "")).lower() == "none"
    if random_init:
        overrides = {k: v for k, v in overrides.items() if k != "pretrained"}
    cfg = make_config(profile, variant, dataset=dataset, data_root=root, device=device, **overrides)
    return cfg.replace(pretrained=None) if random_init else cfg


def is_finished(cfg: Config, runs: str | os.PathLike | None = None) -> bool:
    return run_is_finished(run_dir_for(cfg, runs_dir(runs)))


def _label(cfg: Config) -> str:
    seed = "" if cfg.seed == 1 else f" seed {cfg.seed}"
    return f"{cfg.variant} on {cfg.dataset}{seed}"


def ensure_runs(configs: Iterable[Config], runs: str | os.PathLike | None = None, *,
                executor: str = "local", jobs: int | None = None, ray_address: str | None = None,
                progress: bool = True, stages: StageClock | None = None) -> int:
    """Train every run of ``configs`` that is not finished yet; returns how many were trained.

    The clips of each unfinished run are prepared first, once per data set, before any training
    starts (preparation forks worker processes, which is only safe before torch starts threads).
    ``executor='local'`` trains in a pool of ``jobs`` processes (in this process when one run or
    one job); ``'ray'`` sends the runs to a Ray cluster (``ray_address``; None starts a local one).
    Runs that resolve to the same settings are trained once. Runs that differ only by seed and
    backbone (``cfg.pretrained``, ``cfg.backbone_seed``) train together as one stack
    (``microau.train.group``), one task of an executor; a run alone is trained by ``run_loso``.
    ``stages`` records how long each data set, the pretraining and the training took.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, not {executor!r}")
    stages = stages if stages is not None else StageClock()
    where = runs_dir(runs)
    configs = list(configs)
    for cfg in {registry.data_key(c): c for c in configs}.values():  # a run's key needs its sheet
        if registry.is_phantom(cfg.dataset):
            t = time.perf_counter()
            for part_cfg in registry.part_configs(cfg):
                registry.root_for(part_cfg, progress=progress)  # written here on first use
            dt = time.perf_counter() - t
            if dt > 0.5:  # not just found in the cache
                stages.add(f"data {cfg.dataset}", dt, f"phantom written in {dt:.1f} s")
    todo: dict[Path, Config] = {}
    for cfg in configs:
        d = run_dir_for(cfg, where)
        if not run_is_finished(d):
            todo.setdefault(d, cfg)
    if not todo:
        return 0
    t0 = time.perf_counter()
    firsts: dict[tuple, Config] = {}
    for cfg in todo.values():
        firsts.setdefault(registry.data_key(cfg), cfg)
    # every set's clips first (phantoms written, clips prepared by forked workers), then tensors:
    # nothing torch does has started its threads when the workers are forked
    prepared = {}
    for key, cfg in firsts.items():
        t = time.perf_counter()
        if registry.is_composite(cfg.dataset):  # each part prepared here; its tensors read the cache
            for part_cfg in registry.part_configs(cfg):
                prepare_for(part_cfg, progress=progress)
            prepared[key] = None
            stages.add(f"data {cfg.dataset}", time.perf_counter() - t, "parts prepared")
            continue
        prepared[key] = prepare_for(cfg, progress=progress)
        s = prepared[key].summary()
        stages.add(f"data {cfg.dataset}", time.perf_counter() - t,
                   f"{s['clips']} clips prepared in {time.perf_counter() - t:.1f} s ({s['computed']} computed)")
    log.info("data of %d set(s) ready in %.0f s; %d run(s) to train", len(firsts),
             time.perf_counter() - t0, len(todo))
    configs = list(todo.values())  # one per run directory
    from .pretrain.checkpoint import PHANTOM_TAG, ensure_backbones

    draws: dict[str, set[int]] = {}
    for c in configs:
        if c.pretrained == PHANTOM_TAG:
            draws.setdefault(c.clip_model, set()).add(c.backbone_seed)
    for clip_model, seeds in sorted(draws.items()):
        # once, here, before any worker starts; the missing draws pretrained together (stacked)
        with stages.stage("pretraining", f"{clip_model}, draw(s) {sorted(seeds)}"):
            ensure_backbones(clip_model, sorted(seeds), progress=progress)
    with stages.stage("LOSO runs", f"{len(configs)} run(s), executor {executor}"):
        if executor == "ray":
            from .train.ray_executor import train_runs_ray

            train_runs_ray(configs, where, address=ray_address, progress=progress, label=_label)
        elif len(group_configs(configs)) == 1 or jobs == 1:
            data = {}  # tensors only where this process trains (pool workers read the cache)
            for group in group_configs(configs):
                key = registry.data_key(group[0])
                if key not in data:
                    data[key] = load_train_data(group[0], progress=progress, prepared=prepared[key])
                t = time.perf_counter()
                if len(group) == 1:
                    run_loso(group[0], runs_dir=where, progress=progress, data=data[key])
                else:
                    train_run_group(group, where, data=data[key], progress=progress)
                log.info("%s trained in %.0f s", ", ".join(_label(c) for c in group), time.perf_counter() - t)
        else:
            from .train.pool import train_runs

            train_runs(configs, where, jobs=jobs, progress=progress, label=_label)
    return len(configs)


def read_run(cfg: Config, runs: str | os.PathLike | None = None) -> RunResult:
    """The finished run of ``cfg``, read back (FileNotFoundError, saying how to train it, if
    there is none)."""
    d = run_dir_for(cfg, runs_dir(runs))
    if not run_is_finished(d):
        raise FileNotFoundError(
            f"no finished run of {_label(cfg)} (profile {cfg.profile}) in {d.parent}; train it with "
            f"`microau loso --dataset {cfg.dataset} --variant {cfg.variant} --profile {cfg.profile}` "
            "or `microau reproduce`, or call with train_missing=True")
    result = RunResult.load(d)
    result.config = cfg  # same computation, possibly asked for under another variant name
    return result


@dataclass
class Runs:
    """The runs one page uses, keyed by (variant, dataset), or (variant, dataset, seed)."""

    results: dict = field(default_factory=dict)
    datasets: tuple[str, ...] = ()
    profile: str = ""
    seeds: tuple[int, ...] = ()
    context: dict = field(default_factory=dict)  # how they were asked for: find sibling runs

    def __getitem__(self, key):
        return self.results[key]

    def get(self, variant: str, dataset: str, seed: int | None = None):
        if seed is None:
            return self.results.get((variant, dataset))
        return self.results.get((variant, dataset, seed))

    def items(self):
        return self.results.items()

    def by_seed(self, variant: str, dataset: str) -> dict[int, RunResult]:
        """Every seed's run of (variant, dataset)."""
        return {k[2]: r for k, r in self.results.items() if len(k) == 3 and k[:2] == (variant, dataset)}


def load_runs(variants: Iterable[str], datasets: Iterable[str] = registry.DEFAULT_DATASETS,
              profile: str = "quick", data_root: dict | None = None, device: str = "cpu",
              runs: str | os.PathLike | None = None, train_missing: bool = True,
              seeds: Iterable[int] | None = None, progress: bool = False, verbose: bool = True,
              **overrides) -> Runs:
    """The runs of every (variant, dataset) pair, read back from the runs directory.

    With ``train_missing`` (the default, so a notebook executed on its own on a fresh clone still
    works) the missing ones are trained first through :func:`ensure_runs`; without it a missing
    run is an error that says how to train it. ``seeds``: also read each pair once per seed (keys
    (variant, dataset, seed)); the first seed's runs are the (variant, dataset) entries.
    """
    datasets, variants = tuple(datasets), tuple(variants)
    seeds = tuple(seeds or ())
    configs = {(v, d): make_run_config(profile, v, d, data_root, device, **overrides)
               for d in datasets for v in variants}
    seeded = {(v, d, s): cfg.replace(seed=s) for (v, d), cfg in configs.items() for s in seeds}
    if seeds:
        configs = {(v, d): seeded[(v, d, seeds[0])] for (v, d) in configs}
    every = {**configs, **seeded}
    finished_before = {k for k, cfg in every.items() if is_finished(cfg, runs)}
    if train_missing:
        ensure_runs(list(every.values()), runs, jobs=1, progress=progress)
    out = Runs(datasets=datasets, profile=profile, seeds=seeds,
               context=dict(data_root=data_root, device=device, runs=runs, overrides=overrides))
    out.context["trained_now"] = sorted(k for k in every if k not in finished_before)
    for key, cfg in every.items():
        out.results[key] = read_run(cfg, runs)
        if verbose and len(key) == 2:
            how = "read back" if key in finished_before else "trained now"
            print(f"{key[0]:24s} {key[1]:15s} {how}")
    return out


def load_page_runs(page: str, datasets: Iterable[str] = registry.DEFAULT_DATASETS, profile: str = "quick",
                   data_root: dict | None = None, device: str = "cpu", runs: str | os.PathLike | None = None,
                   train_missing: bool = True, overrides: dict | None = None, **kwargs) -> Runs:
    """:func:`load_runs` for the variants a book page shows (``microau.book.manifest``).
    ``overrides`` are Config fields set on the command line, plus ``seeds`` (a list: read every
    run once per seed, as ``microau reproduce --seeds`` trained them)."""
    from .book.manifest import notebook_variants

    over = {**(overrides or {}), **kwargs}
    seeds = over.pop("seeds", None)
    return load_runs(notebook_variants(page), datasets, profile, data_root, device, runs,
                     train_missing=train_missing, seeds=seeds, **over)


def seed_run_configs(page: str, datasets: Iterable[str], profile: str, data_root: dict | None = None,
                     device: str = "cpu", **overrides) -> dict[tuple[str, str, int], Config]:
    """(variant, dataset, draw key) -> config of every seed-spread run a page shows (the key's
    backbone draw and seed set, ``noise.split_draw``). Under a profile without a pretrained
    backbone every draw is the same backbone: only draw 0's keys are kept."""
    from .book.manifest import page as page_of
    from .draws import split_draw

    out = {}
    for v, d, key in page_of(page).seed_runs(datasets):
        b, s = split_draw(key)
        cfg = make_run_config(profile, v, d, data_root, device, **overrides).replace(seed=s, backbone_seed=b)
        if cfg.backbone_seed == b:
            out[(v, d, key)] = cfg
    return out


def load_seed_runs(page: str, datasets: Iterable[str] = registry.DEFAULT_DATASETS, profile: str = "quick",
                   data_root: dict | None = None, device: str = "cpu", runs: str | os.PathLike | None = None,
                   train_missing: bool = True, overrides: dict | None = None,
                   only_finished: bool = False) -> Runs:
    """The seed-spread runs of a page, keyed (variant, dataset, seed). ``only_finished``: read the
    ones that exist and skip the rest (what a table page does to find the measured spread)."""
    over = {k: v for k, v in (overrides or {}).items() if k != "seeds"}
    configs = seed_run_configs(page, datasets, profile, data_root, device, **over)
    if train_missing and not only_finished:
        ensure_runs(list(configs.values()), runs, jobs=1, progress=False)
    out = Runs(datasets=tuple(datasets), profile=profile,
               seeds=tuple(sorted({k[2] for k in configs})),
               context=dict(data_root=data_root, device=device, runs=runs, overrides=overrides))
    for key, cfg in configs.items():
        if only_finished and not is_finished(cfg, runs):
            continue
        out.results[key] = read_run(cfg, runs)
    return out


def control_run_configs(page: str, datasets: Iterable[str], profile: str, data_root: dict | None = None,
                        device: str = "cpu", **overrides) -> dict[tuple[str, str], Config]:
    """(variant, data set) -> config of every run a page shows on the phantom controls
    (``Page.control_runs``: the base phantoms and their '-indep' / '-offsite' controls; none for
    licensed data). Read at the default seed, as the cross-set runs are."""
    from .book.manifest import page as page_of

    over = {k: v for k, v in overrides.items() if k != "seeds"}
    return {(v, d): make_run_config(profile, v, d, data_root, device, **over)
            for v, d in page_of(page).control_keys(datasets)}


def load_control_runs(page: str, datasets: Iterable[str] = registry.DEFAULT_DATASETS, profile: str = "quick",
                      data_root: dict | None = None, device: str = "cpu", runs: str | os.PathLike | None = None,
                      train_missing: bool = True, overrides: dict | None = None) -> Runs:
    """The control runs of a page (:func:`control_run_configs`), keyed (variant, data set), the
    control phantoms under their own names; ``datasets`` stays the page's (the base sets), so the
    seed spreads of the base sets are found as for any page. Missing runs are trained only with
    ``train_missing``; otherwise they are left out."""
    datasets = tuple(datasets)
    configs = control_run_configs(page, datasets, profile, data_root, device, **(overrides or {}))
    finished_before = {k for k, cfg in configs.items() if is_finished(cfg, runs)}
    if train_missing:
        ensure_runs(list(configs.values()), runs, jobs=1, progress=False)
    out = Runs(datasets=datasets, profile=profile,
               context=dict(data_root=data_root, device=device, runs=runs, overrides=overrides))
    out.context["trained_now"] = sorted(k for k in configs
                                        if k not in finished_before and is_finished(configs[k], runs))
    for key, cfg in configs.items():
        if is_finished(cfg, runs):
            out.results[key] = read_run(cfg, runs)
    return out
