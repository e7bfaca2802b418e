"""Pretraining several backbone seeds: one after another (``pretrain_clip`` per seed), one after
another through the batched trainer's step (stacks of one), and together
(``microau.pretrain.batched.pretrain_clips``, one stacked training). Wall time, process
CPU time, peak memory (each path in its own subprocess), and how far the two paths' weights are
apart (float32 rounding: the same computation, tested equal in float64 by tests/test_pretrain.py).

    python benchmarks/bench_pretrain_batched.py                       # 3 seeds, 1024 pairs, 1 epoch
    python benchmarks/bench_pretrain_batched.py --pairs 10240 --epochs 8 --seeds 0,1,2   # the real size

The corpus is rendered once per path and its time is reported apart: the default settings' corpus
(10240 pairs) would dominate a short measurement, so the default measures a smaller corpus for
fewer steps. The time per step does not depend on the corpus size.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def worker(args) -> dict:
    import numpy as np
    import torch

    from microau.pretrain.batched import pretrain_clips
    from microau.pretrain.contrastive import PretrainSettings, pretrain_clip
    from microau.pretrain.corpus import CorpusSettings

    if args.threads:
        torch.set_num_threads(args.threads)
    base = PretrainSettings(corpus=CorpusSettings(n_pairs=args.pairs), epochs=args.epochs)
    settings = [dataclasses.replace(base, seed=int(s)) for s in args.seeds.split(",")]
    t0, c0 = time.perf_counter(), time.process_time()
    if args.mode == "alone":
        out = [pretrain_clip(args.model, s, progress=False) for s in settings]
    elif args.mode == "stacks-of-one":
        out = [pretrain_clips(args.model, [s], progress=False)[0] for s in settings]
    else:
        out = pretrain_clips(args.model, settings, progress=False)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    render = out[0][1]["render_s"] if args.mode == "together" else sum(r["render_s"] for _, r in out)
    np.savez(args.out, **{f"{k}:{name}": v.float().numpy() for k, (state, _) in enumerate(out)
                          for name, v in state.items()})
    return {"seconds": seconds, "cpu_seconds": cpu, "render_s": render, "steps": out[0][1]["steps"],
            "loss_last_10": [r["loss_last_10"] for _, r in out], "threads": torch.get_num_threads(),
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="microau-tiny")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--pairs", type=int, default=1024)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--save", default=None)
    p.add_argument("--mode", choices=["alone", "stacks-of-one", "together"], help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.mode:
        print("RESULT " + json.dumps(worker(args)))
        return
    import tempfile

    import numpy as np

    load0 = os.getloadavg()
    runs, weights = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("alone", "stacks-of-one", "together"):
            out = Path(tmp) / f"{mode}.npz"
            cmd = [sys.executable, __file__, "--mode", mode, "--out", str(out)] + [
                f"--{k}={v}" for k, v in vars(args).items() if k not in ("mode", "out", "save") and v is not None]
            proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
            line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
            if proc.returncode or not line:
                sys.exit(f"{mode} failed:\n{proc.stderr[-3000:]}")
            runs[mode] = json.loads(line[0][7:])
            with np.load(out) as z:
                weights[mode] = {k: z[k] for k in z.files}
    a, o, t = runs["alone"], runs["stacks-of-one"], runs["together"]
    n = len(args.seeds.split(","))
    diff = max(float(np.abs(weights["alone"][k] - weights["together"][k]).max()) for k in weights["alone"])
    train_a, train_t = a["seconds"] - a["render_s"], t["seconds"] - t["render_s"]
    lines = [
        f"pretrain {args.model}: {n} seeds ({args.seeds}), {args.pairs} pairs, {args.epochs} epoch(s) = {a['steps']} "
        f"steps per seed | torch threads {t['threads']}",
        f"  one after another: {a['seconds']:.1f} s (corpus rendering {a['render_s']:.1f} s, once per seed), "
        f"process CPU {a['cpu_seconds']:.1f} s, peak RSS {a['peak_mb']:.0f} MB",
        f"  one after another, each a stack of one (the batched trainer's step): {o['seconds']:.1f} s (corpus "
        f"rendering {o['render_s']:.1f} s), process CPU {o['cpu_seconds']:.1f} s; training alone "
        f"{o['seconds'] - o['render_s']:.1f} s",
        f"  together (stacked): {t['seconds']:.1f} s (corpus rendering {t['render_s']:.1f} s, once), "
        f"process CPU {t['cpu_seconds']:.1f} s, peak RSS {t['peak_mb']:.0f} MB",
        f"  training alone (rendering left out): {train_a:.1f} s vs {train_t:.1f} s -> {train_a / train_t:.2f}x; "
        f"whole: {a['seconds'] / t['seconds']:.2f}x",
        f"  final loss (mean of the last 10 steps) per seed, alone / together: "
        + ", ".join(f"{x:.3f}/{y:.3f}" for x, y in zip(a["loss_last_10"], t["loss_last_10"])),
        f"  max |weight difference| (float32 rounding, amplified by training): {diff:.2e}",
        f"  load average {' '.join(f'{v:.1f}' for v in load0)} before, "
        f"{' '.join(f'{v:.1f}' for v in os.getloadavg())} after (a shared machine: times are upper bounds)",
    ]
    text = "\n".join(lines)
    print(text)
    if args.save:
        from microau.train.store import write_text_atomic

        cmd = "python benchmarks/bench_pretrain_batched.py " + " ".join(
            f"--{k} {v}" for k, v in vars(args).items() if k not in ("mode", "out", "save") and v is not None)
        write_text_atomic(Path(args.save), f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPU core(s), "
                          f"with: `{cmd}`\n\n```text\n{text}\n```\n")


if __name__ == "__main__":
    main()
