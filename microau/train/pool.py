"""Train many LOSO runs side by side: a pool of worker processes, each with a few torch threads.

On a CPU the fast trainer's step is made of many small products that do not use two cores well:
two processes with one thread each finish two runs sooner than one process with two threads
finishes them one after the other (measured by benchmarks/bench_loso.py on the performance page). ``microau reproduce`` uses this to train
every run the book needs before it executes the notebooks, which then read the runs back.
Runs that differ only by seed and backbone form one task, trained as one stack
(``microau.train.group``); a run alone is ``run_loso``. Each run is what ``run_loso`` computes in
a single process (to rounding, for a run stacked with others); only the scheduling differs.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from ..config import Config

log = logging.getLogger(__name__)


def default_jobs(device: str = "cpu") -> int:
    """One job per core on a CPU, up to 4; a single job on a GPU."""
    if device.startswith("cuda"):
        return 1
    return max(1, min(os.cpu_count() or 1, 4))


@dataclass
class PoolRun:
    config: Config
    run_dir: Path
    seconds: float | None = None  # None: read back, not trained here


_worker_data: dict = {}


def _worker_init(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set in this process
        pass


def _train_one(cfg_values: list[dict], runs_dir: str, data=None) -> float:
    """Worker: one group of LOSO runs (``microau.train.group``; a lone run is ``run_loso``), data
    loaded once per worker and data set, unless given."""
    from .data import data_key, load_train_data
    from .group import train_run_group
    from .loso import run_loso

    cfgs = [Config.from_dict(v) for v in cfg_values]
    key = data_key(cfgs[0])
    if data is not None:
        _worker_data[key] = data
    elif key not in _worker_data:
        _worker_data[key] = load_train_data(cfgs[0], progress=False)
    t0 = time.perf_counter()
    if len(cfgs) == 1:
        run_loso(cfgs[0], runs_dir=runs_dir, progress=False, data=_worker_data[key])
    else:
        train_run_group(cfgs, runs_dir, data=_worker_data[key], progress=False)
    return time.perf_counter() - t0


def group_runs(runs: list[PoolRun]) -> list[list[PoolRun]]:
    """Runs that train in one stack (``microau.train.group.group_key``), first-seen order kept."""
    from .group import group_key

    groups: dict = {}
    for r in runs:
        groups.setdefault(group_key(r.config), []).append(r)
    return list(groups.values())


def plan_runs(configs: list[Config], runs_dir: str | Path, label, data=None) -> list[PoolRun]:
    """One PoolRun per distinct run directory among ``configs``, in order; settings that cannot be
    trained, or data that cannot be found, are refused naming the run (RuntimeError)."""
    from .loso import check_trainable, run_dir_for

    runs: dict[Path, PoolRun] = {}
    for cfg in configs:
        try:
            check_trainable(cfg)
            d = run_dir_for(cfg, runs_dir, data=data)
        except (FileNotFoundError, ValueError) as err:
            raise RuntimeError(f"LOSO run {label(cfg)} cannot start: {err}") from err
        runs.setdefault(d, PoolRun(cfg, d))
    return list(runs.values())


def train_runs(configs: list[Config], runs_dir: str | Path, jobs: int | None = None,
               progress: bool = True, label=None, data=None) -> list[PoolRun]:
    """Train every unfinished run of ``configs`` (duplicates by run directory are trained once).

    ``jobs`` worker processes share the machine's cores (default :func:`default_jobs`); each gets
    ``cores // jobs`` torch threads. The data of every run must already be prepared (see
    ``microau.train.data.load_train_data``), so that workers only read the preparation cache.
    ``label(cfg)`` names a run in the progress bar and in errors. ``data`` (a ``TrainData``,
    sent to the workers) replaces loading for every run: for small in-memory sets such as tests.
    """
    from tqdm.auto import tqdm

    from .loso import is_finished

    label = label or (lambda c: f"{c.variant} on {c.dataset}")
    runs = plan_runs(configs, runs_dir, label, data)
    todo = [r for r in runs if not is_finished(r.run_dir)]
    if not todo:
        return runs
    device = todo[0].config.device
    groups = group_runs(todo)  # runs that differ only by seed and backbone: one task, one stack
    jobs = max(1, min(jobs or default_jobs(device), len(groups)))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    log.info("training %d runs (%d task(s)) with %d worker(s) x %d thread(s)", len(todo), len(groups), jobs,
             threads)
    ctx = multiprocessing.get_context("spawn")  # never fork a process that has started torch threads
    bar = tqdm(total=len(todo), desc=f"LOSO runs ({jobs} worker{'s' if jobs > 1 else ''})", unit="run",
               disable=not progress, dynamic_ncols=True)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_worker_init,
                             initargs=(threads,)) as pool:
        pending = {pool.submit(_train_one, [r.config.to_dict() for r in g], str(runs_dir), data): g for g in groups}
        finished = 0
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    g = pending.pop(fut)
                    names = ", ".join(label(r.config) for r in g)
                    try:
                        seconds = fut.result()
                    except Exception as err:
                        where = ", ".join(str(r.run_dir) for r in g)
                        raise RuntimeError(f"LOSO run {names} ({where}) failed: {err}") from err
                    for r in g:
                        r.seconds = seconds
                    finished += len(g)
                    bar.update(len(g))
                    bar.set_postfix_str(f"{names}: {seconds:.0f} s")
                    log.info("%s trained in %.0f s (%d of %d runs)", names, seconds, finished, len(todo))
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            bar.close()
    return runs
