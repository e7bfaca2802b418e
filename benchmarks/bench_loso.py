"""Three LOSO trainers on the same work: naive, fast per-fold, fold-batched. Wall time, ratios,
peak memory.

    python benchmarks/bench_loso.py                                    # whole runs, quick profile, phantom
    python benchmarks/bench_loso.py --seeds 1,2,3,4,5                  # a seed spread: 5 runs, one stack
    python benchmarks/bench_loso.py --sparse-gain                      # also: last block in full
    python benchmarks/bench_loso.py --device cuda --profile paper      # GPU: per-step, projected run
    python benchmarks/bench_loso.py --trace                            # torch.profiler of the batched step
    ... --save book/benchmarks/NAME.md                                 # for the book

The paths, each in its own subprocess (so that its peak memory, the resident set on CPU or the
allocated CUDA memory on a GPU, is its own), all from the same seed on the same prepared data:

- naive: the reference trainer (``microau.train.reference``), one fold after another, the full
  visual forward at every step. Too slow for whole runs on a CPU: by default it is measured on
  ``--naive-folds 2`` folds over every epoch, and the whole run is a PROJECTION: the measured
  time times (optimisation steps of every fold and seed) / (steps measured). ``--naive-folds 0``
  measures it whole.
- fast per-fold: ``train_folds(..., fold_chunk=1)``, what ``run_loso --fold-chunk 1`` runs: the
  fast trainer's computation, one fold at a time, each seed's run after the other. Whole runs.
- fold-batched: every fold of every seed's run in one stack (``microau.train.group.plan_stacks``,
  ``train_members``: what ``ensure_runs`` trains for a group of seed runs). Whole runs.

Models use random weights (no download; the cost does not depend on the weights' values).
``--steps S`` measures only S optimisation steps per path and projects whole runs from them
(default for 'paper'); such figures are printed as projections, never as measurements.
``--device cuda`` on a machine without a CUDA GPU prints one line saying so and exits 0.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _peak_memory_mb(device: str) -> float:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_data(cfg, kind: str):
    """The phantom (prepared through the cache), or random images of the same shape: 26 subjects,
    255 clips (CASME II's counts) with the data set's AUs."""
    from microau.train.data import TrainData, load_train_data

    if kind == "phantom":
        return load_train_data(cfg, workers=max(1, (os.cpu_count() or 2) // 2), progress=False)
    from microau.aus import DATASET_AUS

    data = TrainData.synthetic(n_subjects=26, clips_per_subject=10, aus=DATASET_AUS[cfg.base_dataset], seed=0)
    keep = [i for i in range(260) if not (i % 10 == 9 and i // 10 < 5)]  # 5 subjects with 9 clips: 255
    data.ids = [data.ids[i] for i in keep]
    data.subjects = [data.subjects[i] for i in keep]
    data.emotion3 = [data.emotion3[i] for i in keep]
    data.images, data.landmarks, data.labels = data.images[keep], data.landmarks[keep], data.labels[keep]
    return data


def _limit_steps(steps: int | None):
    """Cut every epoch of the fast trainer to its first ``steps`` steps (None: leave it)."""
    from microau.train import fast

    original = fast._epoch_rows
    if steps:
        def first(stack, data, train_rows, epoch):
            rows, sizes, counts = original(stack, data, train_rows, epoch)
            return rows[:, :steps], sizes[:, :steps], [min(c, steps) for c in counts]

        fast._epoch_rows = first
    return original


def worker(args) -> dict:
    import torch

    from microau.config import make_config
    from microau.train.common import epoch_batches

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = make_config(args.profile, "full", dataset=args.dataset, device=args.device, epochs=args.epochs,
                      precision=args.precision).replace(pretrained=None)
    seeds = [int(s) for s in str(args.seeds).split(",")]
    data = load_data(cfg, args.data).to(cfg.device)
    folds = list(range(min(args.folds or len(data.fold_subjects), len(data.fold_subjects))))
    steps_per_epoch = {f: len(epoch_batches(len(data.subject_index(data.fold_subjects[f], False)),
                                            cfg.batch_size, cfg.seed, f, 0)) for f in folds}
    out = {"mode": args.mode, "folds": len(folds), "seeds": seeds, "epochs": cfg.epochs, "n_clips": len(data.ids),
           "clip_model": cfg.clip_model, "steps_per_epoch": steps_per_epoch, "threads": torch.get_num_threads(),
           "device_name": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"}
    probs = {}
    t0, c0 = time.perf_counter(), time.process_time()
    if args.mode == "naive":
        from microau.train.reference import train_fold_reference

        measured = folds[: args.naive_folds] if args.naive_folds else folds
        ncfg = cfg.replace(epochs=args.naive_epochs or cfg.epochs)
        for f in measured:
            if args.steps:
                _reference_steps(cfg.replace(epochs=1), data, f, args.steps)
            else:
                probs[f"{seeds[0]}:{f}"] = train_fold_reference(ncfg, data, f).probs.ravel().tolist()
        out["measured_steps"] = (args.steps * len(measured) if args.steps else
                                 sum(steps_per_epoch[f] for f in measured) * ncfg.epochs)
    elif args.mode == "perfold":
        from microau.train.loso import train_folds

        original = _limit_steps(args.steps)
        for s in seeds:
            for r in train_folds(cfg.replace(seed=s), data, folds, fold_chunk=1, sparse=not args.dense):
                probs[f"{s}:{r.fold}"] = r.probs.ravel().tolist()
        _restore(original)
        out["measured_steps"] = _fast_steps(args, steps_per_epoch, cfg, len(seeds))
    else:
        from microau.train.fast import train_members
        from microau.train.group import plan_stacks
        from microau.train.members import Member

        pairs = [(None, Member(cfg.replace(seed=s), f)) for s in seeds for f in folds]
        stacks = plan_stacks(pairs, data)
        out["stacks"] = [len(st) for st in stacks]
        if args.trace:
            out["trace"] = _trace(args, [m for _, m in stacks[0]], data)
        else:
            original = _limit_steps(args.steps)
            for st in stacks:
                members = [m for _, m in st]
                for m, r in zip(members, train_members(members, data, sparse=not args.dense)):
                    probs[f"{m.cfg.seed}:{m.fold}"] = r.probs.ravel().tolist()
            _restore(original)
        out["measured_steps"] = _fast_steps(args, steps_per_epoch, cfg, len(seeds))
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    out["seconds"] = time.perf_counter() - t0
    out["cpu_seconds"] = time.process_time() - c0
    out["peak_mb"] = _peak_memory_mb(args.device)
    out["probs"] = probs
    return out


def _restore(original) -> None:
    from microau.train import fast

    fast._epoch_rows = original


def _fast_steps(args, steps_per_epoch, cfg, n_seeds) -> int:
    """Member-steps a fast path trained (every fold and seed)."""
    per_epoch = [min(s, args.steps) if args.steps else s for s in steps_per_epoch.values()]
    return sum(per_epoch) * cfg.epochs * n_seeds


def _reference_steps(cfg, data, fold, steps):
    """The reference trainer's first ``steps`` steps of one fold (no evaluation): None."""
    from microau.train import reference

    original = reference.epoch_batches
    reference.epoch_batches = lambda *a: original(*a)[:steps]
    try:
        reference.train_fold_reference(cfg, data, fold)
    finally:
        reference.epoch_batches = original
    return None


def _trace(args, members, data) -> str:
    """torch.profiler over ``--steps`` (default 3) batched steps of one epoch, after a warm-up step
    (the set-up of the stack is not in it)."""
    from torch.profiler import ProfilerActivity, profile

    from microau.train import fast
    from microau.train.members import build_stack

    original = _limit_steps(1)
    fast.train_stack(build_stack(members, data, sparse=not args.dense), data)  # warm-up
    _restore(original)
    _limit_steps(args.steps or 3)
    stack = build_stack(members, data, sparse=not args.dense)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if args.device.startswith("cuda") else [])
    with profile(activities=activities) as prof:
        fast.train_stack(stack, data)
    _restore(original)
    key = "self_cuda_time_total" if args.device.startswith("cuda") else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=key, row_limit=20, max_name_column_width=48)


def _run(args, mode: str, extra: list[str] = ()) -> dict:
    cmd = [sys.executable, __file__, "--mode", mode] + [
        f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items()
        if k not in ("mode", "trace", "dense", "sparse_gain", "save") and v is not None] + list(extra)
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not line:
        sys.exit(f"{mode} path failed:\n{proc.stderr[-3000:]}")
    return json.loads(line[0][7:])


def _max_diff(a: dict, b: dict) -> float | None:
    import numpy as np

    common = sorted(set(a) & set(b))
    if not common:
        return None
    return float(max(np.max(np.abs(np.array(a[k]) - np.array(b[k]))) for k in common))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default="quick")
    p.add_argument("--dataset", default="phantom-casme2")
    p.add_argument("--data", choices=["phantom", "synthetic"], default="phantom",
                   help="the prepared phantom, or random images of CASME II's shape (26 subjects, 255 clips)")
    p.add_argument("--seeds", default="1", help="fine-tuning seeds, comma-separated: one run each")
    p.add_argument("--folds", type=int, default=None, help="train only the first K folds (default: all)")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default: the profile's)")
    p.add_argument("--naive-folds", type=int, default=2, help="folds the naive path is measured on (0: all)")
    p.add_argument("--naive-epochs", type=int, default=None, help="epochs of the naive path (default: all)")
    p.add_argument("--steps", type=int, default=None,
                   help="measure this many steps per epoch only and project (default: 5 for 'paper', else whole runs)")
    p.add_argument("--threads", type=int, default=None, help="torch threads per path (default: torch's)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    p.add_argument("--sparse-gain", action="store_true",
                   help="also time fold-batched with the last visual block computed in full")
    p.add_argument("--trace", action="store_true", help="profile the fold-batched step with torch.profiler instead")
    p.add_argument("--save", default=None, help="also write the figures as a markdown file (for the book)")
    p.add_argument("--mode", choices=["naive", "perfold", "batched"], help=argparse.SUPPRESS)
    p.add_argument("--dense", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    from microau.config import PROFILES

    paper = args.profile == "paper"
    args.epochs = args.epochs or PROFILES[args.profile].get("epochs", 80)
    args.steps = args.steps if args.steps is not None else (5 if paper else 0)
    if args.mode:
        print("RESULT " + json.dumps(worker(args)))
        return
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            print(f"no CUDA GPU on this machine (torch {torch.__version__}: torch.cuda.is_available() is False); "
                  "nothing measured")
            return
    load_before = os.getloadavg()
    if args.trace:
        runs = {"batched": _run(args, "batched", ["--trace"])}
    else:
        runs = {m: _run(args, m) for m in ("naive", "perfold", "batched")}
        if args.sparse_gain:
            runs["dense"] = _run(args, "batched", ["--dense"])
    text = report(args, runs, load_before)
    print(text)
    if args.save:
        _save_markdown(args, text)


def report(args, runs: dict, load_before) -> str:
    b = runs["batched"]
    lines: list[str] = []
    say = lines.append
    data_label = "phantom" if args.data == "phantom" else "synthetic images, CASME II's shape"
    n_models = b["folds"] * len(b["seeds"])
    say(f"device {args.device} ({b['device_name']}) | profile {args.profile} ({b['clip_model']}), {args.precision} | "
        f"{args.dataset} ({data_label}): {b['n_clips']} clips | {b['folds']} folds x {len(b['seeds'])} seed(s) = "
        f"{n_models} models x {args.epochs} epochs | torch threads {b['threads']}")
    if args.trace:
        say(f"torch.profiler over {args.steps or 3} fold-batched steps serving {b['stacks'][0]} members "
            "(after a warm-up):")
        lines.extend(b["trace"].splitlines())
        return "\n".join(lines)
    n, pf = runs["naive"], runs["perfold"]
    whole_steps = sum(b["steps_per_epoch"].values()) * args.epochs * len(b["seeds"])

    def whole(r):  # seconds of the whole runs: measured, or scaled by steps (a projection)
        return r["seconds"] * whole_steps / r["measured_steps"]

    def line(name, r):
        cpu = f", process CPU {r['cpu_seconds']:.1f} s"
        if r["measured_steps"] >= whole_steps:
            return f"  {name}: {r['seconds']:.1f} s (whole runs, measured{cpu})"
        return (f"  {name}: {r['seconds']:.1f} s measured on {r['measured_steps']} steps{cpu} -> PROJECTION "
                f"{whole(r):.0f} s for the whole runs (x {whole_steps / r['measured_steps']:.1f}: time taken to "
                "scale with the number of steps, set-up included)")

    say(f"  optimisation steps of the whole runs: {whole_steps} (member-steps: one model, one batch)")
    say(line("naive (reference, per fold) ", n))
    say(line("fast per-fold (fold_chunk=1)", pf))
    say(line(f"fold-batched ({len(b['stacks'])} stack(s) of {'/'.join(map(str, b['stacks']))})", b))
    projected = any(r["measured_steps"] < whole_steps for r in (n, pf, b))
    say(f"  ratio naive/fold-batched     : {whole(n) / whole(b):.1f}x{' (PROJECTION)' if projected else ''}")
    say(f"  ratio per-fold/fold-batched  : {whole(pf) / whole(b):.1f}x"
        f"{' (PROJECTION)' if args.steps else ''} (process CPU time: {pf['cpu_seconds'] / b['cpu_seconds']:.1f}x)")
    if "dense" in runs:
        d = runs["dense"]
        say(f"  fold-batched with the last visual block in full: {d['seconds']:.1f} s (process CPU "
            f"{d['cpu_seconds']:.1f} s) -> sparse last block gain {d['seconds'] / b['seconds']:.2f}x "
            f"(CPU time {d['cpu_seconds'] / b['cpu_seconds']:.2f}x)")
    mem = "torch.cuda.max_memory_allocated" if args.device.startswith("cuda") else "process RSS, data included"
    say(f"  peak memory naive / per-fold / fold-batched: {n['peak_mb']:.0f} / {pf['peak_mb']:.0f} / "
        f"{b['peak_mb']:.0f} MB ({mem})")
    d_naive, d_fold = _max_diff(n["probs"], b["probs"]), _max_diff(pf["probs"], b["probs"])
    if d_naive is not None:
        say(f"  max |p_naive - p_batched| (folds the naive path trained): {d_naive:.2e}")
    if d_fold is not None:
        say(f"  max |p_per-fold - p_batched|: {d_fold:.2e}")
    say(f"  load average {' '.join(f'{v:.1f}' for v in load_before)} before, "
        f"{' '.join(f'{v:.1f}' for v in os.getloadavg())} after (above the core count: a shared machine, "
        "times are upper bounds)")
    return "\n".join(lines)


def _save_markdown(args, text: str) -> None:
    import platform

    cmd = "python benchmarks/bench_loso.py " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()
        if k not in ("mode", "save", "trace", "dense", "sparse_gain") and v not in (None, 0)) + \
        (" --trace" if args.trace else "") + (" --sparse-gain" if args.sparse_gain else "")
    cpu = platform.processor() or platform.machine()
    from microau.train.store import write_text_atomic

    write_text_atomic(
        Path(args.save),
        f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPU core(s) ({cpu}), "
        f"torch threads {args.threads or 'default'}, with: `{cmd}`\n\n```text\n{text}\n```\n")


if __name__ == "__main__":
    main()
