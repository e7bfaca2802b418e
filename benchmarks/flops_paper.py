"""FLOP count of a paper-profile CASME II LOSO run, fast and naive trainer, and what it projects
for a GPU (a PROJECTION, not a measurement).

    python benchmarks/flops_paper.py --save book/benchmarks/paper_flops_projection.md

Counts floating-point operations with ``torch.utils.flop_counter.FlopCounterMode`` (matrix
products, convolutions, attention; elementwise work is not counted) on the paper profile's model
(ViT-B/32, random weights: the count does not depend on the weights) and on random images of
CASME II's shape (26 subjects, 255 clips). The fast step is counted for one fold (the stacked step
does the same work once per fold); the run's total is the per-step count times the steps of every
fold over 80 epochs, plus the one-off visual prefix cache. The projected time divides the total by
a fraction of a GPU's peak rate; the peak rates are inputs (``--peak-tflops``), taken from the
vendor's datasheet, and the fractions are assumptions, not measurements.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def _count(fn) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--peak-tflops", type=float, default=989.0,
                   help="the GPU's peak dense rate in TFLOP/s (default: NVIDIA H100 SXM, BF16 dense, datasheet)")
    p.add_argument("--peak-label", default="H100 SXM peak dense BF16 (datasheet)")
    p.add_argument("--save", default=None)
    args = p.parse_args()

    import torch

    from bench_loso import load_data
    from microau.config import make_config
    from microau.losses import total_loss
    from microau.train import fast
    from microau.train.common import build_model, epoch_batches
    from microau.train.reference import _text_features

    torch.manual_seed(0)
    cfg = make_config("paper", "full", dataset="phantom-casme2").replace(pretrained=None)
    data = load_data(cfg, "synthetic")
    steps = [len(epoch_batches(len(data.subject_index(s, False)), cfg.batch_size, cfg.seed, f, 0))
             for f, s in enumerate(data.fold_subjects)]

    model = build_model(cfg, data.aus)
    chunk = data.images[:8]
    prefix_flops = _count(lambda: fast.visual_prefix_cache(model, chunk)) * len(data.ids) / len(chunk)
    prefix = fast.visual_prefix_cache(model, data.images)

    rows = [data.subject_index(data.fold_subjects[0], test=False)]
    original = fast.epoch_batches

    def fast_steps(n):
        fast.epoch_batches = lambda *a: original(*a)[:n]
        try:
            return _count(lambda: fast.train_stacked(cfg.replace(epochs=1), data, rows, [0], prefix_cache=prefix))
        finally:
            fast.epoch_batches = original

    fast_step = fast_steps(2) - fast_steps(1)  # one step, without the one-off text prefix

    opt = torch.optim.SGD(model.param_groups(), lr=cfg.lr_other)
    idx = torch.arange(cfg.batch_size)

    def naive_step():
        labels = data.labels[idx]
        out = model(data.images[idx], data.landmarks[idx])
        parts = total_loss(cfg, out, labels, _text_features(model, cfg, labels), model.logit_scale.exp())
        opt.zero_grad()
        parts.total.backward()
        opt.step()

    naive = _count(naive_step)
    total_steps = sum(steps) * cfg.epochs
    fast_run = fast_step * total_steps + prefix_flops
    naive_run = naive * total_steps
    peak = args.peak_tflops * 1e12
    lines = [
        f"paper profile ({cfg.clip_model}, {cfg.epochs} epochs, batch {cfg.batch_size}), CASME II's shape: "
        f"{len(data.ids)} clips, {len(steps)} folds, {sum(steps)} fold-steps per epoch",
        "FLOP count (torch.utils.flop_counter; products, convolutions, attention):",
        f"  fast step, one fold : {fast_step / 1e9:.1f} GFLOP   naive step: {naive / 1e9:.1f} GFLOP   "
        f"ratio {naive / fast_step:.1f}x",
        f"  visual prefix cache : {prefix_flops / 1e12:.2f} TFLOP (once per run)",
        f"  whole LOSO run      : fast {fast_run / 1e15:.2f} PFLOP   naive {naive_run / 1e15:.2f} PFLOP   "
        f"ratio {naive_run / fast_run:.1f}x",
        f"PROJECTION (not a measurement): time of the whole run at a fraction of {args.peak_label}, "
        f"{args.peak_tflops:.0f} TFLOP/s:",
    ]
    for u in (0.1, 0.25, 0.5):
        lines.append(f"  at {u:.0%} of peak: fast {fast_run / (u * peak):.0f} s   naive {naive_run / (u * peak):.0f} s")
    text = "\n".join(lines)
    print(text)
    if args.save:
        cmd = "python benchmarks/flops_paper.py" + (f" --peak-tflops {args.peak_tflops:g}" if args.peak_tflops != 989.0
                                                   else "")
        from microau.train.store import write_text_atomic

        write_text_atomic(Path(args.save), f"Computed {time.strftime('%Y-%m-%d')} with: `{cmd}`\n\n```text\n{text}\n```\n")


if __name__ == "__main__":
    main()
