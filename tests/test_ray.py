"""The Ray executor on a local Ray instance (CPU): the same bits as the local pool, fold groups
merged into one run, resume, and a worker killed mid-run."""
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from microau.config import make_config  # noqa: E402
from microau.train.data import TrainData  # noqa: E402
from microau.train.loso import RunResult, fold_file  # noqa: E402
from microau.train.pool import train_runs  # noqa: E402
from microau.train.ray_executor import _connect, split_folds, train_runs_ray  # noqa: E402

VARIANTS = ("full", "table2/lsi_only", "table8/no_cl")


@pytest.fixture(scope="module")
def local_ray():
    started = _connect(None)
    yield
    if started:
        ray.shutdown()


@pytest.fixture(scope="module")
def data():
    return TrainData.synthetic(n_subjects=4, clips_per_subject=5, seed=4)


@pytest.fixture(scope="module")
def grid():
    return [make_config("smoke", v, dataset="phantom-casme2", epochs=2) for v in VARIANTS]


@pytest.fixture(scope="module")
def pooled(tmp_path_factory, grid, data):
    """The grid as the local pool trains it (2 workers x 1 torch thread)."""
    runs = tmp_path_factory.mktemp("pool")
    return {r.config.variant: RunResult.load(r.run_dir) for r in train_runs(grid, runs, jobs=2, progress=False,
                                                                              data=data)}


def _same_bits(a: RunResult, b: RunResult) -> None:
    assert a.metrics.equals(b.metrics)
    assert a.predictions.equals(b.predictions)
    assert a.mer.equals(b.mer)
    arrays_a, arrays_b = a.arrays(), b.arrays()
    assert set(arrays_a) == set(arrays_b)
    for k in arrays_a:
        np.testing.assert_array_equal(arrays_a[k], arrays_b[k], err_msg=k)


def test_split_folds_never_leaves_a_fold_alone_when_it_can_be_paired():
    assert split_folds(list(range(26)), 4) == [list(range(0, 7)), list(range(7, 14)), list(range(14, 20)),
                                               list(range(20, 26))]
    assert split_folds([0, 1, 2], 3) == [[0, 1, 2]]
    assert split_folds([0, 1, 2, 3], 3) == [[0, 1], [2, 3]]
    assert split_folds([5], 2) == [[5]] and split_folds([], 2) == []
    assert split_folds(list(range(6)), None) == [list(range(6))]


def test_ray_grid_equals_the_local_pool_bit_for_bit(local_ray, tmp_path, grid, data, pooled):
    runs = train_runs_ray(grid, tmp_path, data=data, progress=False)
    assert len(runs) == len(grid) and all(r.seconds is not None for r in runs)
    for r in runs:
        _same_bits(RunResult.load(r.run_dir), pooled[r.config.variant])
    # asked again: everything is read back, nothing trained
    assert all(r.seconds is None for r in train_runs_ray(grid, tmp_path, data=data, progress=False))


def test_a_run_cut_into_fold_groups_equals_the_run_trained_whole(local_ray, tmp_path, grid, data, pooled):
    [run] = train_runs_ray(grid[:1], tmp_path, data=data, progress=False, fold_groups=2)
    _same_bits(RunResult.load(run.run_dir), pooled["full"])
    assert sorted(p.name for p in (run.run_dir / "folds").iterdir()) == [f"fold{f:03d}.npz" for f in range(4)]


def test_an_interrupted_run_resumes_from_its_saved_folds(local_ray, tmp_path, grid, data, pooled):
    import shutil

    done = pooled["full"].run_dir
    run_dir = tmp_path / done.relative_to(done.parents[2])
    shutil.copytree(done, run_dir)
    (run_dir / "DONE").unlink()
    for f in (1, 3):  # the driver died before these units came back
        fold_file(run_dir, f).unlink()
    kept = fold_file(run_dir, 0).stat().st_mtime_ns
    [run] = train_runs_ray(grid[:1], tmp_path, data=data, progress=False)
    assert run.run_dir == run_dir and fold_file(run_dir, 0).stat().st_mtime_ns == kept
    _same_bits(RunResult.load(run_dir), pooled["full"])


def _ray_task_pids(name: str = "_train_unit") -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if cmd.startswith("ray::") and name in cmd:
                pids.append(int(d.name))
    return pids


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds Ray's worker processes through /proc")
def test_killing_a_worker_during_a_ray_run_still_gives_the_complete_identical_grid(local_ray, tmp_path, grid,
                                                                                    data, pooled):
    killed = []

    def kill_one_worker():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            pids = _ray_task_pids()
            if pids:
                time.sleep(0.3)  # let it get into training
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_worker, daemon=True)
    killer.start()
    runs = train_runs_ray(grid, tmp_path, data=data, progress=False, fold_groups=2, max_retries=3)
    killer.join(timeout=5)
    assert killed, "no Ray worker was seen running a unit"
    for r in runs:
        _same_bits(RunResult.load(r.run_dir), pooled[r.config.variant])
        assert len(list((r.run_dir / "folds").glob("fold*.npz"))) == len(data.fold_subjects)


def test_runs_of_several_seeds_train_as_one_stack_with_the_same_bits_as_the_pool(local_ray, tmp_path, data):
    """Runs that differ only by seed form one group: one task in the pool and on Ray, the same
    stacks (``group.plan_stacks``), so the same bits; each run is stored on its own."""
    from microau.train.pool import group_runs, plan_runs

    seeds = [make_config("smoke", "full", dataset="phantom-casme2", epochs=2).replace(seed=s) for s in (1, 2, 3)]
    assert len(group_runs(plan_runs(seeds, tmp_path / "x", str, data))) == 1
    pool = train_runs(seeds, tmp_path / "pool", jobs=2, progress=False, data=data)  # one task: every core
    # the same torch threads as the pool's one worker (the thread count changes the last bits)
    on_ray = train_runs_ray(seeds, tmp_path / "ray", data=data, progress=False, num_cpus=os.cpu_count() or 1)
    assert len({r.run_dir.name for r in on_ray}) == 3
    for a, b in zip(pool, on_ray):
        meta = RunResult.load(a.run_dir).meta
        assert meta["timings"]["stacked_runs"] == 3
        _same_bits(RunResult.load(a.run_dir), RunResult.load(b.run_dir))


def test_a_local_instance_starts_without_the_token_notice(tmp_path):
    """Ray announces token authentication on every local start; microau's own start keeps it off
    the terminal (and restores the logger), while the instance still works."""
    import subprocess
    import sys

    code = ("import logging, ray\n"
            "from microau.train.ray_executor import TOKEN_NOTICE_LOGGER, _connect\n"
            "assert _connect(None)\n"
            "print('answer', ray.get(ray.remote(lambda: 41 + 1).remote()))\n"
            "print('level', logging.getLogger(TOKEN_NOTICE_LOGGER).level)\n"
            "ray.shutdown()\n")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    env.pop("RAY_AUTH_MODE", None)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "answer 42" in proc.stdout and "level 0" in proc.stdout
    assert "Token authentication" not in proc.stderr + proc.stdout
