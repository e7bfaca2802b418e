"""Many LOSO runs in one stacked training: runs that differ only by seed and backbone (the seed
spread, the backbone draws) share the data and the module structure, so all their folds train
as members of one stack (``microau.train.members``). Each run is still written to its own run
directory exactly as ``run_loso`` writes it (same files, keys and store format): its folds are
saved as they are trained (an interrupted group resumes at the missing folds of each run), then
the run is assembled and marked done.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

from ..config import Config
from .common import epoch_batches
from .data import TrainData, data_key, load_train_data
from .loso import RunResult, finish_run, open_run, save_folds, stored_folds
from .members import Member, computation_key, members_per_stack

log = logging.getLogger(__name__)


def group_key(cfg: Config) -> tuple:
    """Runs with equal keys can train in one stack: same computation, data and device."""
    return computation_key(cfg), data_key(cfg), cfg.device


def group_configs(configs: list[Config]) -> list[list[Config]]:
    """``configs`` in groups that may share a stack (first-seen order kept)."""
    groups: dict[tuple, list[Config]] = {}
    for cfg in configs:
        groups.setdefault(group_key(cfg), []).append(cfg)
    return list(groups.values())


def order_members(members: list[tuple[object, Member]]) -> list[tuple[object, Member]]:
    """Members of one backbone next to each other (a chunk then needs fewer prefix caches),
    then by seed and fold (a stable sort: ties keep their order)."""
    return sorted(members, key=lambda tm: (str(tm[1].cfg.pretrained), tm[1].cfg.backbone_seed, tm[1].cfg.seed, tm[1].fold))


def chunk_members(members: list, size: int) -> list[list]:
    """Consecutive chunks of at most ``size`` members, of nearly equal size (never a lone
    member when two could be paired: see ``ray_executor.split_folds``)."""
    if not members:
        return []
    n = -(-len(members) // max(1, size))
    base, extra = divmod(len(members), n)
    out, start = [], 0
    for i in range(n):
        end = start + base + (i < extra)
        out.append(members[start:end])
        start = end
    return out


def plan_stacks(members: list[tuple[object, Member]], data: TrainData, budget: float | None = None
                ) -> list[list[tuple[object, Member]]]:
    """(tag, member) pairs of one group cut into the stacks they train in: ordered by
    :func:`order_members`, at most as many per stack as fit in ``budget``. Every executor plans
    with this, so a group's stacks, and so its bits, do not depend on where it runs."""
    if not members:
        return []
    members = order_members(members)
    return chunk_members(members, members_per_stack(members[0][1].cfg, data, budget))


def train_run_group(configs: list[Config], runs_dir: Path | str | None = None, data: TrainData | None = None,
                    progress: bool = True, force: bool = False, budget: float | None = None) -> list[RunResult]:
    """Train (or read back) every run of ``configs`` (one group: see :func:`group_configs`) in
    stacked trainings of at most ``budget`` bytes (default ``members.stack_budget_bytes``).
    Returns one RunResult per config, in order."""
    if len({group_key(c) for c in configs}) > 1:
        raise ValueError("train_run_group takes runs that differ only by seed and backbone; "
                         "group them with group_configs")
    t0 = time.perf_counter()
    if data is None:
        data = load_train_data(configs[0], progress=progress)
    opened, results = {}, {}
    for i, cfg in enumerate(configs):
        run_dir, finished = open_run(cfg, runs_dir, data=data, force=force)
        if finished is not None:
            results[i] = finished
        else:
            opened.setdefault(run_dir, []).append(i)
    if opened:
        data.to(configs[0].device)
        trained = _train_open_runs(configs, opened, data, progress, budget)
        for run_dir, idx in opened.items():
            cfg = configs[idx[0]]
            result = finish_run(cfg, data, run_dir, "fast", timings={
                "total_s": time.perf_counter() - t0, "train_s": trained["train_s"],
                "stacked_runs": len(opened), "stacked_members": trained["members"]},
                folds=trained["folds"][run_dir])
            for i in idx:
                results[i] = result
    return [results[i] for i in range(len(configs))]


def _train_open_runs(configs, opened: dict, data: TrainData, progress: bool, budget) -> dict:
    from tqdm.auto import tqdm

    from .fast import train_members

    subjects = data.fold_subjects
    folds = {}
    members = []
    for run_dir, idx in opened.items():
        stored = stored_folds(run_dir, data)
        folds[run_dir] = dict(stored)
        cfg = configs[idx[0]]
        members += [(run_dir, Member(cfg, f)) for f in range(len(subjects)) if f not in stored]
    chunks = plan_stacks(members, data, budget)
    cfg0 = configs[0]
    steps = sum(len(epoch_batches(len(m.train_rows(data)), cfg0.batch_size, m.cfg.seed, m.fold, 0))
                for _, m in members) * cfg0.epochs
    bar = tqdm(total=steps, disable=not progress, desc=f"LOSO {cfg0.dataset} {cfg0.variant} x{len(opened)} runs",
               unit="step", dynamic_ncols=True, leave=False)
    log.info("%d run(s), %d fold(s) to train as %d stack(s)", len(opened), len(members), len(chunks))
    t = time.perf_counter()
    for chunk in chunks:
        out = train_members([m for _, m in chunk], data, on_step=lambda loss, n: bar.update(n))
        for (run_dir, _), result in zip(chunk, out):
            save_folds(run_dir, [result])
            folds[run_dir][result.fold] = result
    bar.close()
    return {"folds": folds, "train_s": time.perf_counter() - t, "members": len(members)}
