"""Naive vs fast LOSO trainer on the same work: wall time, ratio, peak memory.

    python benchmarks/bench_loso.py --profile quick --folds 4          # whole runs, all epochs
    python benchmarks/bench_loso.py --device cuda --profile paper      # GPU: per-step, projected run
    python benchmarks/bench_loso.py --profile quick --trace            # torch.profiler of the fast step
    ... --save book/benchmarks/NAME.md                                 # for the book

Defaults follow the profile: 'paper' measures ``--steps 5`` steps per trainer on every fold of the
data and projects the whole LOSO run (26 folds x 80 epochs on CASME II's shape); the other
profiles train whole runs (all the profile's epochs) on ``--folds 4`` folds and report the
whole-run ratio next to the per-epoch figures. ``--device cuda`` on a machine without a CUDA GPU
prints one line saying so and exits 0. ``--data synthetic`` times the same shapes on random
images (no phantom to write or prepare; the cost does not depend on the pixels' values).

Each trainer runs in its own subprocess so that its peak memory (resident set on CPU, allocated
CUDA memory on a GPU) is its own. Both train the same folds for the same epochs from the same
seed on the same prepared data; the script also checks that their predictions agree.

``--steps S`` measures only S optimisation steps per trainer (plus the fast trainer's one-off
prefix cache) and projects the cost of a full run from them; such figures are printed as
*projections*, never as measurements.
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


def worker(args) -> dict:
    import numpy as np
    import torch

    from microau.config import make_config
    from microau.train.common import build_model, epoch_batches

    # random weights: no download here, and the cost does not depend on the weights' values
    cfg = make_config(args.profile, "full", dataset=args.dataset, device=args.device,
                      epochs=args.epochs, precision=args.precision).replace(pretrained=None)
    data = load_data(cfg, args.data).to(cfg.device)
    folds = list(range(min(args.folds or len(data.fold_subjects), len(data.fold_subjects))))
    steps_per_epoch = [len(epoch_batches(len(data.subject_index(data.fold_subjects[f], False)),
                                         cfg.batch_size, cfg.seed, f, 0)) for f in folds]
    t0 = time.perf_counter()
    if args.mode == "reference":
        from microau.train.reference import train_fold_reference

        if args.steps:
            cfg = cfg.replace(epochs=1)
            results = None
            t_step = _time_reference_steps(cfg, data, args.steps)
        else:
            results = [train_fold_reference(cfg, data, f) for f in folds]
    else:
        from microau.train.fast import train_folds_fast, visual_prefix_cache

        t_prefix0 = time.perf_counter()
        prefix = visual_prefix_cache(build_model(cfg, data.aus).to(cfg.device), data.images)
        prefix_s = time.perf_counter() - t_prefix0
        if args.trace:
            trace = _trace_fast_steps(cfg, data, folds, prefix, args.steps or 3)
            t_step, results = None, None
        elif args.steps:
            t_step = _time_fast_steps(cfg, data, folds, prefix, args.steps)
            results = None
        else:
            results = train_folds_fast(cfg, data, folds, prefix_cache=prefix)
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    out = {"mode": args.mode, "seconds": seconds, "peak_mb": _peak_memory_mb(args.device),
           "folds": len(folds), "epochs": cfg.epochs, "steps_per_epoch": steps_per_epoch,
           "n_clips": len(data.ids), "clip_model": cfg.clip_model}
    if args.mode == "fast":
        out["prefix_s"] = prefix_s
        if args.trace:
            out["trace"] = trace
    if args.steps:
        out["seconds_per_step"] = t_step
    out["all_steps_per_epoch"] = [len(epoch_batches(len(data.subject_index(s, False)), cfg.batch_size, cfg.seed,
                                                    f, 0)) for f, s in enumerate(data.fold_subjects)]
    out["device_name"] = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    if results is not None:
        out["probs"] = np.concatenate([r.probs.ravel() for r in results]).tolist()
    return out


def _time_reference_steps(cfg, data, steps):
    """Seconds per naive optimisation step (fold 0), after one warm-up step."""
    import torch

    from microau.losses import total_loss
    from microau.train.common import build_model
    from microau.train.reference import _text_features

    model = build_model(cfg, data.aus).to(cfg.device)
    opt = torch.optim.SGD(model.param_groups(), lr=cfg.lr_other, momentum=cfg.momentum)
    idx = torch.arange(cfg.batch_size, device=data.images.device)
    times = []
    for i in range(steps + 1):
        t = time.perf_counter()
        labels = data.labels[idx]
        out = model(data.images[idx], data.landmarks[idx])
        parts = total_loss(cfg, out, labels, _text_features(model, cfg, labels), model.logit_scale.exp())
        opt.zero_grad()
        parts.total.backward()
        opt.step()
        if cfg.device.startswith("cuda"):
            torch.cuda.synchronize()
        if i:
            times.append(time.perf_counter() - t)
    return sum(times) / len(times)


def _time_fast_steps(cfg, data, folds, prefix, steps):
    """Seconds per fast step serving all ``folds`` at once: one epoch restricted to ``steps`` steps."""
    from microau.train import fast

    original = fast.epoch_batches

    def few(n, b, seed, fold, epoch):
        return original(n, b, seed, fold, epoch)[: steps + 1]

    fast.epoch_batches = few
    try:
        t = time.perf_counter()
        fast.train_folds_fast(cfg.replace(epochs=1), data, folds, prefix_cache=prefix)
        return (time.perf_counter() - t) / (steps + 1)
    finally:
        fast.epoch_batches = original


def _trace_fast_steps(cfg, data, folds, prefix, steps) -> str:
    """torch.profiler over ``steps`` fast steps (after one warm-up step; model set-up included,
    evaluation not): the operators that take the most time, as a table."""
    from torch.profiler import ProfilerActivity, profile

    from microau.train import fast

    original = fast.epoch_batches
    fast.epoch_batches = lambda n, b, seed, fold, epoch: original(n, b, seed, fold, epoch)[:1]
    try:
        rows = [data.subject_index(data.fold_subjects[f], test=False) for f in folds]
        one_epoch = cfg.replace(epochs=1)
        fast.train_stacked(one_epoch, data, rows, folds, prefix_cache=prefix)  # warm-up
        fast.epoch_batches = lambda n, b, seed, fold, epoch: original(n, b, seed, fold, epoch)[:steps]
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cfg.device.startswith("cuda") else [])
        with profile(activities=activities) as prof:
            fast.train_stacked(one_epoch, data, rows, folds, prefix_cache=prefix)  # training only, no evaluation
    finally:
        fast.epoch_batches = original
    key = "self_cuda_time_total" if cfg.device.startswith("cuda") else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=key, row_limit=15, max_name_column_width=48)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default="quick")
    p.add_argument("--dataset", default="phantom-casme2")
    p.add_argument("--data", choices=["phantom", "synthetic"], default="phantom",
                   help="the prepared phantom, or random images of CASME II's shape (26 subjects, 255 clips)")
    p.add_argument("--folds", type=int, default=None, help="folds to train (default: 4; 'paper': all)")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default: the profile's)")
    p.add_argument("--steps", type=int, default=None,
                   help="measure this many steps only and project (default: 5 for 'paper', else whole runs)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    p.add_argument("--trace", action="store_true", help="profile the fast step with torch.profiler instead")
    p.add_argument("--save", default=None, help="also write the figures as a markdown file (for the book)")
    p.add_argument("--mode", choices=["reference", "fast"], help=argparse.SUPPRESS)
    p.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    from microau.config import PROFILES

    paper = args.profile == "paper"
    args.epochs = args.epochs or PROFILES[args.profile].get("epochs", 80)
    args.folds = args.folds if args.folds is not None else (0 if paper else 4)  # 0: every fold
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

    runs = {}
    for mode in (("fast",) if args.trace else ("reference", "fast")):
        cmd = [sys.executable, __file__, "--mode", mode] + [
            f"--{k}={v}" for k, v in vars(args).items()
            if k not in ("mode", "json", "trace") and v is not None] + (["--trace"] if args.trace else [])
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode or not line:
            sys.exit(f"{mode} trainer failed:\n{proc.stderr[-3000:]}")
        runs[mode] = json.loads(line[0][7:])

    fast = runs["fast"]
    lines: list[str] = []
    say = lines.append
    data_label = "phantom" if args.data == "phantom" else "synthetic images, CASME II's shape"
    say(f"device {args.device} ({fast['device_name']}) | profile {args.profile} ({fast['clip_model']}), "
        f"{args.precision} | {args.dataset} ({data_label}): {fast['n_clips']} clips | "
        f"{fast['folds']} folds x {args.epochs} epochs")
    if args.trace:
        say(f"torch.profiler over {args.steps or 3} fast steps serving {fast['folds']} folds (after a warm-up step):")
        lines.extend(fast["trace"].splitlines())
    elif args.steps:
        ref = runs["reference"]
        every = fast["all_steps_per_epoch"]  # every fold of the data set: a whole LOSO run
        ref_run = ref["seconds_per_step"] * sum(every) * args.epochs
        fast_run = fast["prefix_s"] + fast["seconds_per_step"] * max(every) * args.epochs
        say(f"PROJECTION from measured per-step costs (not a measured run) of a whole LOSO run: "
            f"{len(every)} folds x {args.epochs} epochs")
        say(f"  naive: {ref['seconds_per_step'] * 1e3:.1f} ms/step (one fold, batch of 8) x {sum(every)} steps/epoch "
            f"-> {ref_run:.0f} s ({ref_run / 60:.1f} min)")
        say(f"  fast : {fast['seconds_per_step'] * 1e3:.1f} ms/step (all {fast['folds']} folds at once) "
            f"x {max(every)} steps/epoch + prefix cache {fast['prefix_s']:.1f} s -> {fast_run:.0f} s "
            f"({fast_run / 60:.1f} min)")
        if fast["folds"] < len(every):
            say(f"  (the fast step was measured on {fast['folds']} of {len(every)} folds: the projection "
                "assumes its cost grows with the fold count no faster than that; rerun with --folds 0)")
        say(f"  ratio naive/fast: {ref_run / fast_run:.1f}x")
    else:
        import numpy as np

        ref = runs["reference"]
        diff = float(np.max(np.abs(np.array(ref["probs"]) - np.array(fast["probs"]))))
        fast_train = fast["seconds"] - fast["prefix_s"]
        say(f"  whole runs (all {args.epochs} epochs, measured):")
        say(f"    naive (reference trainer): {ref['seconds']:.1f} s")
        say(f"    fast trainer             : {fast['seconds']:.1f} s (of which prefix cache {fast['prefix_s']:.1f} s)")
        say(f"    ratio naive/fast         : {ref['seconds'] / fast['seconds']:.1f}x")
        say("  per epoch (the whole runs divided by their epochs; the fast trainer without its one-off "
            "prefix cache):")
        say(f"    naive {ref['seconds'] / args.epochs:.2f} s | fast {fast_train / args.epochs:.2f} s | "
            f"ratio {ref['seconds'] / fast_train:.1f}x")
        say(f"  max |p_naive - p_fast|   : {diff:.2e}")
    if not args.trace:
        say(f"  peak memory naive / fast : {runs['reference']['peak_mb']:.0f} MB / {fast['peak_mb']:.0f} MB "
            f"({'torch.cuda.max_memory_allocated' if args.device.startswith('cuda') else 'process RSS'})")
    text = "\n".join(lines)
    print(text)
    if args.save:
        _save_markdown(args, text)


def _save_markdown(args, text: str) -> None:
    import platform

    cmd = "python benchmarks/bench_loso.py " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()
        if k not in ("mode", "json", "save", "trace") and v not in (None, 0)) + (" --trace" if args.trace else "")
    cpu = platform.processor() or platform.machine()
    from microau.train.store import write_text_atomic

    write_text_atomic(
        Path(args.save),
        f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPU core(s) ({cpu}), "
        f"torch threads default, load average {' '.join(f'{v:.1f}' for v in os.getloadavg())} when it ended "
        f"(a shared machine: other jobs ran at the same time), with: `{cmd}`\n\n```text\n{text}\n```\n")


if __name__ == "__main__":
    main()
