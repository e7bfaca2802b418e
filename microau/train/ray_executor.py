"""Train many LOSO runs on a Ray cluster (or a local Ray instance): the contract of
``microau.train.pool.train_runs``, with work spread over machines.

- Without ``address`` a local Ray instance is started, sized to this machine, quietly (no
  dashboard, workers' output not relayed) and shut down at the end; with one (``'auto'`` or
  ``'HOST:PORT'``) the driver joins that cluster. An instance already started in this process
  (``ray.init`` by the caller) is used as it is.
- Work units are groups of runs that differ only by seed and backbone, trained as one stack (a
  lone run is a group of one; a group too large for one stack makes several units, cut as the
  local executors cut it: ``group.plan_stacks``); with ``fold_groups=G``, the group's folds are
  first cut into at most G parts. A unit is a task that trains its folds and returns their
  results; it asks for ``num_cpus`` cores (that many torch threads) and ``num_gpus`` GPUs
  (fractions allowed).
- The prepared arrays of each data set are put into Ray's object store once (``ray.put``), so the
  workers need no shared filesystem and no preparation cache. Only the driver writes the run
  store: it saves each returned fold file, and assembles a run (outputs, then ``DONE`` with
  checksums) when its last unit is back.
- A task whose worker dies is retried (``max_retries``); a unit's folds are saved exactly once,
  when its result arrives. A run interrupted on the driver resumes from its saved folds.

Each unit computes exactly what ``run_loso`` computes for those folds, so the same seed gives
the same metrics as the local pool (tested bit for bit on CPU, ``tests/test_ray.py``).
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np

from ..config import Config
from .pool import PoolRun, group_runs, plan_runs

log = logging.getLogger(__name__)

# Ray (2.5x and later) turns token authentication on for every local instance and says so in a
# warning at start-up ("Token authentication is enabled for this Ray cluster. Set RAY_AUTH_MODE=
# disabled to opt out"). For the instance microau starts itself that notice is expected: it is
# silenced for that ray.init only, by this logger's level. Setting RAY_AUTH_MODE=token ourselves
# would silence it too, but a process that imported ray earlier keeps its old setting and then
# cannot talk to its own instance (checked with ray 2.60).
TOKEN_NOTICE_LOGGER = "ray._private.authentication.authentication_token_setup"


def _train_unit(cfg_values: list[dict], data, members: list[tuple[int, int]], trainer: str, threads: int):
    """Ray task: train ``members``, (index into ``cfg_values``, fold) pairs of runs of one group,
    in one stack (fast trainer; the reference trains them one by one); returns (fold results in
    the members' order, seconds). Writes nothing."""
    import torch

    from .fast import train_members
    from .members import Member
    from .reference import train_fold_reference

    torch.set_num_threads(max(1, threads))
    cfgs = [Config.from_dict(v) for v in cfg_values]
    data.to(cfgs[0].device)
    t0 = time.perf_counter()
    if trainer == "fast":
        results = train_members([Member(cfgs[i], f) for i, f in members], data)
    else:
        results = [train_fold_reference(cfgs[i], data, f) for i, f in members]
    return results, time.perf_counter() - t0


def plan_units(runs: list, missing: dict, data, fold_groups: int | None, trainer: str) -> list[list[tuple]]:
    """The tasks of one group of runs (``runs`` PoolRuns, ``missing`` run_dir -> folds): each a
    list of (PoolRun, fold). ``fold_groups`` cuts the folds first (the same fold subsets in every
    run); then each part is cut into the stacks the local executors would train
    (``group.plan_stacks``)."""
    from .group import plan_stacks
    from .members import Member

    every = sorted({f for r in runs for f in missing[r.run_dir]})
    units = []
    for part in split_folds(every, fold_groups):
        pairs = [(r, Member(r.config, f)) for r in runs for f in missing[r.run_dir] if f in set(part)]
        if trainer == "fast":
            units += [[(r, m.fold) for r, m in stack] for stack in plan_stacks(pairs, data)]
        else:
            units += [u for u in ([(r, m.fold) for r, m in pairs if r is run] for run in runs) if u]
    return units


def split_folds(folds: list[int], groups: int | None) -> list[list[int]]:
    """Cut a run's folds into at most ``groups`` contiguous groups of nearly equal size.

    No group gets a single fold while two could be paired: the fast trainer's arithmetic for a
    lone fold takes another kernel path and can differ in the last bits (about 1e-7 in the
    probabilities) from the same fold trained beside others.
    """
    if not folds:
        return []
    n = max(1, min(int(groups or 1), len(folds) // 2 or 1))
    return [list(map(int, g)) for g in np.array_split(np.asarray(folds), n)]


def _connect(address: str | None):
    """Start or join Ray; returns True when this call started it (and must shut it down)."""
    import ray

    if ray.is_initialized():
        return False
    quiet = dict(log_to_driver=False, logging_level=logging.WARNING)
    if address:
        ray.init(address=address, **quiet)
        return True
    # workers started by a local instance inherit this environment: let them import this package
    package_parent = str(Path(__file__).resolve().parents[2])
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, before) if p)
    auth_log = logging.getLogger(TOKEN_NOTICE_LOGGER)
    level = auth_log.level
    auth_log.setLevel(logging.ERROR)  # the notice that token authentication is on (see below)
    try:
        ray.init(include_dashboard=False, **quiet)
    finally:
        auth_log.setLevel(level)
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before
    return True


def train_runs_ray(configs: list[Config], runs_dir: str | Path, *, address: str | None = None,
                   fold_groups: int | None = None, num_cpus: float | None = None,
                   num_gpus: float | None = None, max_retries: int = 3, progress: bool = True,
                   label=None, data=None, trainer: str = "fast") -> list[PoolRun]:
    """Train every unfinished run of ``configs`` with Ray (duplicates by run directory trained once).

    ``num_cpus`` per task (default 1; also the task's torch threads), ``num_gpus`` per task
    (default 1 for a CUDA config, else 0; a fraction lets several tasks share a GPU).
    ``fold_groups``: cut each run into at most that many tasks (default: one task per run).
    ``label(cfg)`` names a run in the progress bar, the log and errors. ``data`` (a ``TrainData``)
    replaces loading for every run, as in ``pool.train_runs``. Returns one PoolRun per distinct
    run, ``seconds`` None for runs that were already finished.
    """
    import ray
    from tqdm.auto import tqdm

    from .data import data_key, load_train_data
    from .loso import finish_run, is_finished, open_run, save_folds, stored_folds

    label = label or (lambda c: f"{c.variant} on {c.dataset}")
    runs = plan_runs(configs, runs_dir, label, data)
    todo = [r for r in runs if not is_finished(r.run_dir)]
    if not todo:
        return runs
    device = todo[0].config.device
    cpus = float(num_cpus) if num_cpus else 1.0
    gpus = float(num_gpus) if num_gpus is not None else (1.0 if device.startswith("cuda") else 0.0)

    started = _connect(address)
    try:
        refs: dict = {}  # data key -> ObjectRef: one ray.put per data set
        datasets: dict = {}
        units = []  # (runs of the unit, [(run index, fold)], data key)
        state: dict[Path, dict] = {}
        for group in group_runs(todo):
            key = "given" if data is not None else data_key(group[0].config)
            if key not in datasets:
                source = data if data is not None else load_train_data(group[0].config, progress=progress)
                datasets[key] = source.to("cpu")
                refs[key] = ray.put(datasets[key])
            d = datasets[key]
            missing, open_runs = {}, []
            for r in group:
                run_dir, finished = open_run(r.config, runs_dir, data=d)
                if finished is not None:  # finished meanwhile (another driver)
                    continue
                r.run_dir = run_dir
                stored = stored_folds(run_dir, d)
                missing[run_dir] = [f for f in range(len(d.fold_subjects)) if f not in stored]
                state[run_dir] = {"run": r, "data": d, "stored": stored, "left": 0, "train_s": 0.0,
                                  "t0": time.perf_counter()}
                open_runs.append(r)
            for unit in plan_units(open_runs, missing, d, fold_groups, trainer):
                runs_of = list({id(r): r for r, _ in unit}.values())
                for r in runs_of:
                    state[r.run_dir]["left"] += 1
                units.append((runs_of, [(runs_of.index(r), f) for r, f in unit], key))
            for r in open_runs:
                if not missing[r.run_dir]:  # every fold saved before an interruption: only the assembly
                    _finish(state[r.run_dir], trainer, finish_run)

        task = ray.remote(_train_unit).options(num_cpus=cpus, num_gpus=gpus, max_retries=max_retries,
                                               retry_exceptions=False)
        threads = max(1, int(cpus))
        pending = {task.remote([r.config.to_dict() for r in u[0]], refs[u[2]], u[1], trainer, threads): u
                   for u in units}
        log.info("training %d run(s) as %d Ray task(s) (%g CPU, %g GPU each)", len(state), len(units), cpus,
                 gpus)
        bar = tqdm(total=len(units), desc="LOSO units (ray)", unit="unit", disable=not progress,
                   dynamic_ncols=True)
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    runs_of, members, _ = pending.pop(ref)
                    names = ", ".join(label(r.config) for r in runs_of)
                    try:
                        results, seconds = ray.get(ref)
                    except Exception as err:
                        where = ", ".join(str(r.run_dir) for r in runs_of)
                        raise RuntimeError(f"LOSO run {names} ({where}), folds "
                                           f"{sorted({f for _, f in members})}, failed: {err}") from err
                    results = [_own_copy(x) for x in results]
                    if [x.fold for x in results] != [f for _, f in members]:
                        raise RuntimeError(f"a Ray task for {names} returned folds {[x.fold for x in results]}, "
                                           f"not {[f for _, f in members]}")
                    for j, r in enumerate(runs_of):
                        mine = [x for (i, _), x in zip(members, results) if i == j]
                        save_folds(r.run_dir, mine)
                        s = state[r.run_dir]
                        s["stored"].update({x.fold: x for x in mine})
                        s["train_s"] += seconds
                        s["left"] -= 1
                        if s["left"] == 0:
                            _finish(s, trainer, finish_run)
                    bar.update(1)
                    bar.set_postfix_str(f"{names}: {seconds:.0f} s")
                    log.info("%s, %d fold(s) trained in %.0f s (unit %d of %d)", names, len(members), seconds,
                             bar.n, len(units))
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        finally:
            bar.close()
    finally:
        if started:
            ray.shutdown()
    return runs


def _own_copy(result):
    """Arrays read from the object store are read-only views: give the driver writable copies."""
    import dataclasses

    return dataclasses.replace(result, **{k: np.array(v) for k, v in vars(result).items()
                                          if isinstance(v, np.ndarray)})


def _finish(s: dict, trainer: str, finish_run) -> None:
    r = s["run"]
    finish_run(r.config, s["data"], r.run_dir, trainer,
               timings={"total_s": time.perf_counter() - s["t0"], "train_s": s["train_s"], "executor": "ray"},
               folds=s["stored"])
    r.seconds = time.perf_counter() - s["t0"]
