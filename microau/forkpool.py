"""CPU work spread over forked worker processes, one per core, safely.

Preparation (dlib, OpenCV's TV-L1) and the phantom's rendering hold the GIL for part of their
work, so threads do not fill the cores; processes do. A forked child starts at once and inherits
what the parent loaded (dlib's 100 MB landmark model, the base faces), where a spawned one would
import and load everything again and would re-run an unguarded calling script.

Fork hazards, and what is done about each:

* OpenCV's own thread pool: changing its size *in a forked child* hangs once the parent has used
  both it and torch (measured here). So the parent sets it to one thread just before forking and
  restores it afterwards: each child inherits a single-threaded OpenCV and never touches it.
* torch's OpenMP threads: a child that ran torch ops after the parent had could dead-lock. The
  tasks sent here use numpy, OpenCV and dlib only; work that needs torch (the learned magnifier)
  runs in threads instead (``torch_free=False``).
* Log records: a child's go back with its result and are handled here, by this process's
  handlers, so warnings (and pytest's caplog) see them as if the work had run here.
* Platforms without a safe fork (macOS, Windows), and tasks that run torch: threads instead
  (OpenCV releases the GIL), with the same results.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from contextlib import contextmanager, nullcontext
from typing import Callable, Sequence


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity; ``os.cpu_count()`` where unknown)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def fork_available(torch_free: bool = True) -> bool:
    """True where tasks may run in forked processes: Linux, and tasks that never run torch."""
    return torch_free and sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def uses_processes(workers: int, n_items: int, torch_free: bool = True) -> bool:
    """Whether :func:`fork_map` runs these items in forked processes (else threads, or here)."""
    return min(int(workers or 1), n_items) > 1 and fork_available(torch_free)


@contextmanager
def single_threaded_opencv():
    """OpenCV at one thread while children are forked (they inherit it), restored afterwards."""
    cv2 = sys.modules.get("cv2")
    if cv2 is None:
        import cv2
    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        record.msg, record.args = record.getMessage(), None  # picklable whatever the arguments were
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        self.records.append(record)


def _run_capturing_logs(task):
    """Child side: ``fn(x)`` with every log record this process emits collected, not printed."""
    fn, x = task
    root = logging.getLogger()
    collect, saved = _Collect(), root.handlers[:]
    root.handlers = [collect]
    try:
        return fn(x), collect.records
    finally:
        root.handlers = saved


def fork_map(fn: Callable, items: Sequence, workers: int, on_result: Callable[[int, object], None] | None = None,
             torch_free: bool = True) -> list:
    """``[fn(x) for x in items]``, in that order, computed by up to ``workers`` forked processes.

    ``fn`` must be a module-level function and the items picklable. ``on_result(i, result)`` is
    called as each item finishes (for progress bars), after the log records the task emitted
    have been handled here. An exception in a task is raised here, as raised there, and the tasks
    not yet started are cancelled. Where forking is not safe (see :func:`fork_available`) the
    items run in ``workers`` threads; with one worker or one item, here one after the other."""
    items = list(items)
    results: list = [None] * len(items)
    workers = max(1, min(int(workers or 1), len(items)))
    if workers == 1:
        for i, x in enumerate(items):
            results[i] = fn(x)
            if on_result:
                on_result(i, results[i])
        return results
    forked = uses_processes(workers, len(items), torch_free)
    with single_threaded_opencv() if forked else nullcontext():
        if forked:
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))
        else:
            pool = ThreadPoolExecutor(max_workers=workers)
        try:
            call = _run_capturing_logs if forked else _run_plain
            futures = {pool.submit(call, (fn, x)): i for i, x in enumerate(items)}
            for fut in as_completed(futures):
                i = futures[fut]
                results[i], records = fut.result()
                for record in records:
                    logging.getLogger(record.name).handle(record)
                if on_result:
                    on_result(i, results[i])
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
    return results


def _run_plain(task):
    fn, x = task
    return fn(x), []
