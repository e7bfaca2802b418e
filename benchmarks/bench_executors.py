"""The local process pool against a local Ray instance on the same grid of quick-profile runs:
wall time of each executor from an empty runs directory, the overhead as a ratio, and a check
that both stored the same metrics.

    python benchmarks/bench_executors.py --subjects 4 --runs 4 --save book/benchmarks/executors_cpu.md

Both executors start from prepared data (the preparation cache is filled before timing) and
include their own start-up: the pool spawns its worker processes, Ray starts (and stops) its
local instance. Each uses every core: the pool with one worker per core, Ray with one core per
task.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VARIANTS = ("full", "table2/lsi_only", "table8/no_cl", "table7/cat_mlp", "table2/gsd_only", "table8/local_origcl")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default="quick")
    p.add_argument("--dataset", default="phantom-casme2")
    p.add_argument("--subjects", type=int, default=4, help="first K subjects of the phantom (0: all)")
    p.add_argument("--runs", type=int, default=4, help=f"how many runs (variants, at most {len(VARIANTS)})")
    p.add_argument("--save", default=None)
    args = p.parse_args()

    from microau.config import make_config
    from microau.train.data import load_train_data
    from microau.train.loso import RunResult
    from microau.train.pool import train_runs
    from microau.train.ray_executor import train_runs_ray

    configs = [make_config(args.profile, v, dataset=args.dataset, n_subjects=args.subjects or None)
               for v in VARIANTS[: args.runs]]
    t = time.perf_counter()
    data = load_train_data(configs[0], progress=False)  # fills the preparation cache
    prep_s = time.perf_counter() - t
    cores = os.cpu_count() or 1
    seconds, results = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, train in (("pool", lambda d: train_runs(configs, d, jobs=cores, progress=False)),
                            ("ray", lambda d: train_runs_ray(configs, d, num_cpus=1, progress=False))):
            t = time.perf_counter()
            runs = train(Path(tmp) / name)
            seconds[name] = time.perf_counter() - t
            results[name] = {r.config.variant: RunResult.load(r.run_dir) for r in runs}
    same = all(results["pool"][v].metrics.equals(results["ray"][v].metrics) and
               results["pool"][v].predictions.equals(results["ray"][v].predictions) for v in results["pool"])
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    lines = [
        f"{len(configs)} {args.profile}-profile runs ({', '.join(c.variant for c in configs)}) on {args.dataset} "
        f"({len(data.ids)} clips, {len(data.fold_subjects)} folds, {configs[0].epochs} epochs), {cores} CPU core(s)",
        f"  local pool ({cores} worker process(es) x 1 thread) : {seconds['pool']:.1f} s",
        f"  local Ray  (1 CPU per task, start-up included)    : {seconds['ray']:.1f} s",
        f"  overhead ratio Ray / pool                         : {seconds['ray'] / seconds['pool']:.2f}",
        f"  metrics and predictions identical                 : {'yes' if same else 'NO'}",
        f"  (data prepared before timing: {prep_s:.1f} s; load average {load} at the end, a shared machine)",
    ]
    text = "\n".join(lines)
    print(text)
    if args.save:
        cmd = "python benchmarks/bench_executors.py " + " ".join(
            f"--{k} {v}" for k, v in vars(args).items() if k != "save")
        from microau.train.store import write_text_atomic

        write_text_atomic(Path(args.save), f"Measured {time.strftime('%Y-%m-%d')} with: `{cmd}`\n\n```text\n{text}\n```\n")
    if not same:
        sys.exit("the two executors stored different results")


if __name__ == "__main__":
    main()
