"""Mean F1 of the region-flow baseline against the full model at the quick profile, with the
phantom-pretrained backbone and from scratch, on both phantom sets (LOSO, fast trainer).

    python benchmarks/bench_quick_vs_baseline.py --save book/benchmarks/quick_vs_baseline.md
    python benchmarks/bench_quick_vs_baseline.py --datasets phantom-samm --epochs 20 --visual-blocks 2

The backbone is pretrained (or read from the cache) first; finished runs in ``--runs`` are read
back (with the times they took when trained), the baseline is always computed. Pretrained runs use
``Config.replace(pretrained=<checkpoint path>)``. Every figure is phantom data, and those of the
pretrained model are labelled "phantom, phantom-pretrained backbone". The machine's load average
is printed with the times: on a shared machine they are upper bounds of an idle machine's.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=["phantom-casme2", "phantom-samm"])
    p.add_argument("--epochs", type=int, default=None, help="override the quick profile's epochs")
    p.add_argument("--visual-blocks", type=int, default=None, help="override trained visual blocks")
    p.add_argument("--text-blocks", type=int, default=None, help="override trained text blocks")
    p.add_argument("--skip-scratch", action="store_true", help="leave out the random-init model")
    p.add_argument("--skip-pretrained", action="store_true", help="leave out the pretrained full model")
    p.add_argument("--probe", action="store_true",
                   help="also a linear probe (LOSO logistic regression) on the frozen tokens at each AU's "
                        "landmark patches, random-init against phantom-pretrained backbone")
    p.add_argument("--runs", default=None, help="runs directory (default: a temporary one)")
    p.add_argument("--save", default=None, help="also write the table to this markdown file")
    args = p.parse_args(argv)

    import torch

    from microau.baseline import LABEL, baseline_for_config
    from microau.config import make_config
    from microau.pretrain import ensure_backbone
    from microau.pretrain.checkpoint import backbone_label
    from microau.train.loso import run_loso

    runs = Path(args.runs) if args.runs else Path(tempfile.mkdtemp(prefix="bench-quick-"))
    t0 = time.perf_counter()
    ckpt = ensure_backbone("microau-tiny", progress=False)
    pretrain_s = time.perf_counter() - t0
    over = dict(epochs=args.epochs, visual_trainable_blocks=args.visual_blocks,
                text_trainable_blocks=args.text_blocks)
    if args.epochs is not None:
        over["lr_decay_epoch"] = max(1, round(args.epochs * 0.7))
    rows = []
    for ds in args.datasets:
        quick = make_config("quick", dataset=ds, **over).replace(pretrained=str(ckpt))
        t = time.perf_counter()
        base = baseline_for_config(quick)
        rows.append((ds, LABEL, base.f1, base.acc, time.perf_counter() - t, "phantom"))
        print(_row(rows[-1]), flush=True)
        if not args.skip_pretrained:
            res = run_loso(quick, runs_dir=runs, progress=False)
            rows.append((ds, "full model, quick", res.f1, res.acc, _seconds(res), backbone_label(quick)))
            print(_row(rows[-1]), flush=True)
        if args.probe:
            for name, pre in (("random-init", None), ("phantom-pretrained", str(ckpt))):
                t = time.perf_counter()
                f1 = token_probe(quick, pre)
                rows.append((ds, f"token probe, {name} backbone", f1, float("nan"), time.perf_counter() - t,
                             backbone_label(quick.replace(pretrained=pre))))
                print(_row(rows[-1]), flush=True)
        if not args.skip_scratch:
            scratch = make_config("quick-scratch", dataset=ds, **over)
            res = run_loso(scratch, runs_dir=runs, progress=False)
            rows.append((ds, "full model, quick-scratch", res.f1, res.acc, _seconds(res), backbone_label(scratch)))
            print(_row(rows[-1]), flush=True)
    cfg = make_config("quick", **over)
    head = (f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPU core(s) ({platform.machine()}), "
            f"{torch.get_num_threads()} torch threads, load average before/after "
            f"{LOAD0[0]:.1f}/{os.getloadavg()[0]:.1f} (a shared machine: times are upper bounds), with: "
            f"`python benchmarks/bench_quick_vs_baseline.py {' '.join(sys.argv[1:] if argv is None else argv)}`\n\n"
            f"quick profile: {cfg.clip_model}, {cfg.visual_trainable_blocks} visual / "
            f"{cfg.text_trainable_blocks} text blocks trained, {cfg.epochs} epochs "
            f"(lr / 10 from epoch {cfg.lr_decay_epoch}); backbone {ckpt.name} "
            f"(ready in {pretrain_s:.0f} s: pretrained now or read from the cache)\n")
    table = ["| data set | method | mean F1 | mean ACC | seconds (wall) | label |", "|---|---|---|---|---|---|"]
    table += [f"| {d} | {m} | {f:.3f} | {a:.3f} | {s:.0f} | {lab} |" for d, m, f, a, s, lab in rows]
    text = head + "\n" + "\n".join(table) + "\n"
    print("\n" + text)
    if args.save:
        from microau.train.store import write_text_atomic

        write_text_atomic(Path(args.save), text)
    return 0


def token_probe(cfg, pretrained) -> float:
    """Mean F1 of a LOSO logistic regression (microau.baseline.fit_predict_au) on the frozen prefix's
    tokens, averaged per AU over the patches of its Table I landmarks (Eq. 1's token choice): how
    much AU information the frozen blocks pass on, whatever the heads then learn."""
    import numpy as np
    import torch

    from microau.aus import AU_LANDMARKS
    from microau.baseline import fit_predict_au
    from microau.model.backbone import VisualTower, grid_size, load_clip
    from microau.train.data import load_train_data
    from microau.train.metrics import au_metrics

    data = load_train_data(cfg, progress=False)
    torch.manual_seed(cfg.seed)
    clip = load_clip(cfg.clip_model, pretrained).eval()
    gh, gw = grid_size(clip)
    with torch.no_grad():
        tokens = VisualTower(clip, cfg.visual_trainable_blocks).prefix(data.images).numpy()
    lm = data.landmarks.numpy()
    size = data.images.shape[-1]
    row = np.clip((lm[..., 1] * gh / size).astype(int), 0, gh - 1)
    col = np.clip((lm[..., 0] * gw / size).astype(int), 0, gw - 1)
    index = 1 + row * gw + col  # [M, 68] token of each landmark (after the class token)
    feats = np.concatenate([
        np.stack([tokens[m, index[m, list(AU_LANDMARKS[a])]].mean(0) for m in range(len(tokens))])
        for a in data.aus], axis=1)
    labels, subjects = data.labels.numpy(), np.asarray(data.subjects)
    preds = np.zeros_like(labels)
    for s in data.fold_subjects:
        test = subjects == s
        for n in range(labels.shape[1]):
            preds[test, n] = fit_predict_au(feats[~test], labels[~test, n], feats[test])
    return float(au_metrics(labels, preds, [f"AU{a}" for a in data.aus]).f1.iloc[-1])


def _seconds(res) -> float:
    """The run's own wall time (data loading and training), recorded when it was trained: a run
    read back from ``--runs`` keeps the time it took then."""
    return float(res.meta["timings"]["total_s"])


def _row(r) -> str:
    d, m, f, a, s, lab = r
    return f"{d:15s} {m:28s} F1 {f:.3f}  ACC {a:.3f}  {s:6.0f} s  [{lab}]"


LOAD0 = os.getloadavg()

if __name__ == "__main__":
    sys.exit(main())
