"""Why the pretrained backbone's length of pretraining matters: how much the tokens the heads read
vary, and the full model's mean F1, for random weights and for pretraining of several lengths.

    python benchmarks/bench_token_spread.py --epochs 1 4 8 --save book/benchmarks/token_spread_cpu.md

For each backbone: the patch tokens after the trainable block and ``ln_post`` (what PTA and the
heads receive, before any fine-tuning) of the first ``--clips`` clips of the data set, summarised as
the mean standard deviation across clips (per token position and channel) and across token
positions (per clip and channel), then a quick-profile LOSO run of the full model with that
backbone. Backbones are pretrained into (or read from) the cache under their settings' key; the
default settings are those of ``--epochs`` equal to ``PretrainSettings().epochs``.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
LOAD0 = os.getloadavg()


def token_spread(cfg, data, n_clips: int) -> tuple[float, float]:
    """(sd across clips, sd across token positions) of the initial model's patch tokens."""
    import torch

    from microau.train.common import build_model

    torch.manual_seed(cfg.seed)
    model = build_model(cfg, data.aus).eval()
    with torch.no_grad():
        _, patch = model.visual(data.images[:n_clips])  # [B, h, w, d]
    tokens = patch.reshape(patch.shape[0], -1, patch.shape[-1])
    return float(tokens.std(0).mean()), float(tokens.std(1).mean())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="phantom-casme2")
    p.add_argument("--epochs", nargs="+", type=int, default=[1, 4, 8], help="pretraining passes to compare")
    p.add_argument("--clips", type=int, default=64, help="clips the token spread is measured on")
    p.add_argument("--no-loso", action="store_true", help="token spreads only")
    p.add_argument("--runs", default=None, help="runs directory (default: a temporary one)")
    p.add_argument("--save", default=None, help="also write the table to this markdown file")
    args = p.parse_args(argv)

    import torch

    from microau.config import make_config
    from microau.pretrain import ensure_backbone
    from microau.pretrain.checkpoint import backbone_label
    from microau.pretrain.contrastive import PretrainSettings
    from microau.train.data import load_train_data
    from microau.train.loso import run_loso

    runs = Path(args.runs) if args.runs else Path(tempfile.mkdtemp(prefix="bench-tokens-"))
    base = make_config("quick-scratch", dataset=args.dataset)
    data = load_train_data(base, progress=False)
    backbones = [("random init", None, None)]
    for e in args.epochs:
        settings = dataclasses.replace(PretrainSettings(), epochs=e)
        t = time.perf_counter()
        path = ensure_backbone(base.clip_model, progress=False, settings=settings)
        backbones.append((f"pretrained, {e} pass(es)", str(path), time.perf_counter() - t))
    rows = []
    for name, pretrained, ready_s in backbones:
        cfg = base.replace(pretrained=pretrained)
        across_clips, across_tokens = token_spread(cfg, data, args.clips)
        f1 = float("nan")
        if not args.no_loso:
            f1 = run_loso(cfg, runs_dir=runs, progress=False).f1
        rows.append((name, across_clips, across_tokens, f1, ready_s, backbone_label(cfg)))
        print(rows[-1], flush=True)
    head = (f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPU core(s) ({platform.machine()}), "
            f"{torch.get_num_threads()} torch threads, load average before/after "
            f"{LOAD0[0]:.1f}/{os.getloadavg()[0]:.1f}, with: "
            f"`python benchmarks/bench_token_spread.py {' '.join(sys.argv[1:] if argv is None else argv)}`\n\n"
            f"{args.dataset}, first {args.clips} clips; the full model at the quick profile "
            f"({base.epochs} epochs, {base.visual_trainable_blocks} visual block trained); "
            "'seconds' is the time to pretrain the backbone or read it from the cache.\n")
    table = ["| backbone | token sd across clips | token sd across positions | full model mean F1 | seconds | label |",
             "|---|---|---|---|---|---|"]
    table += [f"| {n} | {a:.3f} | {b:.3f} | {f:.3f} | {'' if s is None else f'{s:.0f}'} | {lab} |"
              for n, a, b, f, s, lab in rows]
    text = head + "\n" + "\n".join(table) + "\n"
    print("\n" + text)
    if args.save:
        from microau.train.store import write_text_atomic

        write_text_atomic(Path(args.save), text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
