"""Train many LOSO runs on a Ray cluster (or a local Ray instance): the contract of
``microau.train.pool.train_runs``, with work spread over machines.

- Without ``address`` a local Ray instance is started, sized to this machine, quietly (no
  dashboard, workers' output not relayed) and shut down at the end; with one (``'auto'`` or
  ``'HOST:PORT'``) the driver joins that cluster. An instance already started in this process
  (``ray.init`` by the caller) is used as it is.
- Work units are runs, or, with ``fold_groups=G``, groups of a run's folds (at most G per run).
  A unit is a task that trains its folds and returns their results; it asks for ``num_cpus``
  cores (that many torch threads) and ``num_gpus`` GPUs (fractions allowed).
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
from .pool import PoolRun, plan_runs

log = logging.getLogger(__name__)

# Ray (2.5x and later) turns token authentication on for every local instance and says so in a
# warning at start-up ("Token authentication is enabled for this Ray cluster. Set RAY_AUTH_MODE=
# disabled to opt out"). For the instance microau starts itself that notice is expected: it is
# silenced for that ray.init only, by this logger's level. Setting RAY_AUTH_MODE=token ourselves
# would silence it too, but a process that imported ray earlier keeps its old setting and then
# cannot talk to its own instance (checked with ray 2.60).
TOKEN_NOTICE_LOGGER = "ray._private.authentication.authentication_token_setup"


def _train_unit(cfg_values: dict, data, folds: list[int], trainer: str, threads: int):
    """Ray task: train ``folds`` of one run; returns (fold results, seconds). Writes nothing."""
    import torch

    from .loso import train_folds

    torch.set_num_threads(max(1, threads))
    cfg = Config.from_dict(cfg_values)
    data.to(cfg.device)
    t0 = time.perf_counter()
    results = train_folds(cfg, data, folds, trainer=trainer)
    return results, time.perf_counter() - t0


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
        units = []  # (PoolRun, folds)
        state: dict[Path, dict] = {}
        for r in todo:
            key = "given" if data is not None else data_key(r.config)
            if key not in datasets:
                datasets[key] = (data if data is not None else load_train_data(r.config, progress=progress)).to("cpu")
                refs[key] = ray.put(datasets[key])
            d = datasets[key]
            run_dir, finished = open_run(r.config, runs_dir, data=d)
            if finished is not None:  # finished meanwhile (another driver)
                continue
            r.run_dir = run_dir
            stored = stored_folds(run_dir, d)
            missing = [f for f in range(len(d.fold_subjects)) if f not in stored]
            groups = split_folds(missing, fold_groups)
            state[run_dir] = {"run": r, "data": d, "stored": stored, "left": len(groups), "train_s": 0.0,
                              "t0": time.perf_counter()}
            units += [(r, g, key) for g in groups]
            if not groups:  # every fold saved before an interruption: only the assembly is left
                _finish(state[run_dir], trainer, finish_run)

        task = ray.remote(_train_unit).options(num_cpus=cpus, num_gpus=gpus, max_retries=max_retries,
                                               retry_exceptions=False)
        threads = max(1, int(cpus))
        pending = {task.remote(u[0].config.to_dict(), refs[u[2]], u[1], trainer, threads): u for u in units}
        log.info("training %d run(s) as %d Ray task(s) (%g CPU, %g GPU each)", len(state), len(units), cpus,
                 gpus)
        bar = tqdm(total=len(units), desc="LOSO units (ray)", unit="unit", disable=not progress,
                   dynamic_ncols=True)
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    r, folds, _ = pending.pop(ref)
                    try:
                        results, seconds = ray.get(ref)
                    except Exception as err:
                        raise RuntimeError(f"LOSO run {label(r.config)} ({r.run_dir}), folds {folds}, failed: "
                                           f"{err}") from err
                    results = [_own_copy(x) for x in results]
                    got = sorted(x.fold for x in results)
                    if got != sorted(folds):
                        raise RuntimeError(f"a Ray task for {r.run_dir} returned folds {got}, not {folds}")
                    save_folds(r.run_dir, results)
                    s = state[r.run_dir]
                    s["stored"].update({x.fold: x for x in results})
                    s["train_s"] += seconds
                    s["left"] -= 1
                    bar.update(1)
                    bar.set_postfix_str(f"{label(r.config)}: {seconds:.0f} s")
                    log.info("%s, folds %d-%d trained in %.0f s (unit %d of %d)", label(r.config), folds[0] + 1,
                             folds[-1] + 1, seconds, bar.n, len(units))
                    if s["left"] == 0:
                        _finish(s, trainer, finish_run)
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
