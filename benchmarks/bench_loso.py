"""Naive vs fast LOSO trainer on the same work: wall time, ratio, peak memory.

    python benchmarks/bench_loso.py --profile quick --folds 4 --epochs 2
    python benchmarks/bench_loso.py --profile paper --folds 8 --epochs 80 --steps 1   # projection
    ... --save book/benchmarks/NAME.md                                            # for the book

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


def worker(args) -> dict:
    import numpy as np
    import torch

    from microau.config import make_config
    from microau.train.common import build_model, epoch_batches
    from microau.train.data import load_train_data

    # random weights: no download here, and the cost does not depend on the weights' values
    cfg = make_config(args.profile, "full", dataset=args.dataset, device=args.device,
                      epochs=args.epochs).replace(pretrained=None)
    data = load_train_data(cfg, progress=False).to(cfg.device)
    folds = list(range(min(args.folds, len(data.fold_subjects))))
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
        if args.steps:
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
    if args.steps:
        out["seconds_per_step"] = t_step
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default="quick")
    p.add_argument("--dataset", default="phantom-casme2")
    p.add_argument("--folds", type=int, default=4)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--steps", type=int, default=0, help="measure this many steps only and project")
    p.add_argument("--device", default="cpu")
    p.add_argument("--save", default=None, help="also write the figures as a markdown file (for the book)")
    p.add_argument("--mode", choices=["reference", "fast"], help=argparse.SUPPRESS)
    p.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.mode:
        print("RESULT " + json.dumps(worker(args)))
        return

    runs = {}
    for mode in ("reference", "fast"):
        cmd = [sys.executable, __file__, "--mode", mode] + [
            f"--{k}={v}" for k, v in vars(args).items() if k not in ("mode", "json") and v is not None]
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode or not line:
            sys.exit(f"{mode} trainer failed:\n{proc.stderr[-3000:]}")
        runs[mode] = json.loads(line[0][7:])

    ref, fast = runs["reference"], runs["fast"]
    lines: list[str] = []
    say = lines.append
    say(f"device {args.device} | profile {args.profile} ({ref['clip_model']}) | {args.dataset}: "
        f"{ref['n_clips']} clips | {ref['folds']} folds x {args.epochs} epochs")
    if args.steps:
        n_steps = sum(ref["steps_per_epoch"]) * args.epochs
        ref_total = ref["seconds_per_step"] * n_steps
        fast_total = fast["prefix_s"] + fast["seconds_per_step"] * max(ref["steps_per_epoch"]) * args.epochs
        say("PROJECTION from measured per-step costs (not a measured run):")
        say(f"  naive: {ref['seconds_per_step'] * 1e3:.1f} ms/step (one fold) -> {ref_total:.0f} s")
        say(f"  fast : {fast['seconds_per_step'] * 1e3:.1f} ms/step (all {fast['folds']} folds) "
              f"+ prefix cache {fast['prefix_s']:.1f} s -> {fast_total:.0f} s")
        say(f"  ratio naive/fast: {ref_total / fast_total:.1f}x")
    else:
        import numpy as np

        diff = float(np.max(np.abs(np.array(ref["probs"]) - np.array(fast["probs"]))))
        say(f"  naive (reference trainer): {ref['seconds']:.1f} s")
        say(f"  fast trainer             : {fast['seconds']:.1f} s (prefix cache {fast['prefix_s']:.1f} s)")
        say(f"  ratio naive/fast         : {ref['seconds'] / fast['seconds']:.1f}x")
        say(f"  max |p_naive - p_fast|   : {diff:.2e}")
    say(f"  peak memory naive / fast : {ref['peak_mb']:.0f} MB / {fast['peak_mb']:.0f} MB "
          f"({'CUDA allocated' if args.device.startswith('cuda') else 'process RSS'})")
    text = "\n".join(lines)
    print(text)
    if args.save:
        _save_markdown(args, text)


def _save_markdown(args, text: str) -> None:
    import platform

    cmd = "python benchmarks/bench_loso.py " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()
        if k not in ("mode", "json", "save") and v not in (None, 0))
    cpu = platform.processor() or platform.machine()
    Path(args.save).parent.mkdir(parents=True, exist_ok=True)
    Path(args.save).write_text(
        f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPU core(s) ({cpu}), "
        f"torch threads default, with: `{cmd}`\n\n```text\n{text}\n```\n")


if __name__ == "__main__":
    main()
