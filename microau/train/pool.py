"""Train many LOSO runs side by side: a pool of worker processes, each with a few torch threads.

On a CPU the fast trainer's step is made of many small products that do not use two cores well:
two processes with one thread each finish two runs sooner than one process with two threads
finishes them one after the other (measured by benchmarks/bench_loso.py on the performance page). ``microau reproduce`` uses this to train
every run the book needs before it executes the notebooks, which then read the runs back.
Each run is exactly what ``run_loso`` computes in a single process; only the scheduling differs.
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


def _train_one(cfg_values: dict, runs_dir: str, data=None) -> float:
    """Worker: one LOSO run (data loaded once per worker and data set, unless given)."""
    from .data import data_key, load_train_data
    from .loso import run_loso

    cfg = Config.from_dict(cfg_values)
    key = data_key(cfg)
    if data is not None:
        _worker_data[key] = data
    elif key not in _worker_data:
        _worker_data[key] = load_train_data(cfg, progress=False)
    t0 = time.perf_counter()
    run_loso(cfg, runs_dir=runs_dir, progress=False, data=_worker_data[key])
    return time.perf_counter() - t0


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
    jobs = max(1, min(jobs or default_jobs(device), len(todo)))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    log.info("training %d runs with %d worker(s) x %d thread(s)", len(todo), jobs, threads)
    ctx = multiprocessing.get_context("spawn")  # never fork a process that has started torch threads
    bar = tqdm(total=len(todo), desc=f"LOSO runs ({jobs} worker{'s' if jobs > 1 else ''})", unit="run",
               disable=not progress, dynamic_ncols=True)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_worker_init,
                             initargs=(threads,)) as pool:
        pending = {pool.submit(_train_one, r.config.to_dict(), str(runs_dir), data): r for r in todo}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    r = pending.pop(fut)
                    try:
                        r.seconds = fut.result()
                    except Exception as err:
                        raise RuntimeError(f"LOSO run {label(r.config)} ({r.run_dir}) failed: {err}") from err
                    bar.update(1)
                    bar.set_postfix_str(f"{label(r.config)}: {r.seconds:.0f} s")
                    log.info("%s trained in %.0f s (%d of %d)", label(r.config), r.seconds,
                             len(todo) - len(pending), len(todo))  # bar.n stays 0 when the bar is off
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            bar.close()
    return runs
