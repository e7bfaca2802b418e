"""The testbed at the quick profile, measured: backbones, resolution, fair baselines, rerun band.

    python benchmarks/bench_testbed.py --save book/benchmarks/testbed_cpu.md
    python benchmarks/bench_testbed.py --sweep --rerun-check --save book/benchmarks/testbed_cpu.md

What it prints (every number phantom data, LOSO, computed here or read back from the runs
directory, where the book's own runs live; runs are trained where missing):

1. **Backbones.** Per backbone draw (pretraining seed): the pretraining record (steps, last losses,
   the plateau check), the frozen-token probe (a LOSO logistic regression on each AU's landmark
   tokens of the frozen backbone: how much AU information the backbone passes on) and the full
   model's mean F1 (seed 1) on both phantoms; then the sd over draws, against the issue's targets
   (probe >= 0.80; full model >= 0.75 with sd <= 0.02 over draws).
2. **Resolution.** Per AU, the share of its Table I (candidate) tokens that are peak tokens (the
   phantom's ground truth, ``microau.mechanisms.peak_tokens``) at the quick profile's grid and at
   the 7 x 7 grid of a 32-px patch: where every candidate token moves, an attention check over
   them cannot fail.
3. **Fair comparisons.** The region-flow baseline with and without class weights, the full model
   with the paper's plain cross-entropy and with class-balanced cross-entropy (our reading), and
   how much of the gap between them each choice explains.
4. ``--sweep``: the choices the quick profile made, each changed alone (trained visual blocks,
   epochs, pretraining without the local term), full model F1 on both phantoms.
5. ``--rerun-check``: draw 0 pretrained again with one initial weight moved by one unit in the
   last place (``PretrainSettings.init_ulps``, a rounding-size change like another CPU's), then
   fine-tuned: its F1 against the noise band of the book's grid (backbone draws x seeds).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATASETS = ("phantom-casme2", "phantom-samm")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=list(DATASETS))
    p.add_argument("--draws", nargs="+", type=int, default=[0, 1, 2], help="backbone draws (pretraining seeds)")
    p.add_argument("--sweep", action="store_true", help="also the one-change-at-a-time sweep")
    p.add_argument("--rerun-check", action="store_true", help="also the one-ulp rerun check")
    p.add_argument("--runs", default=None, help="runs directory (default: the book's)")
    p.add_argument("--save", default=None, help="also write the tables to this markdown file")
    args = p.parse_args(argv)

    import numpy as np

    from microau import draws, noise
    from microau.baseline import run_baseline_loso
    from microau.pretrain.checkpoint import checkpoint_path, ensure_backbones, settings_for_draw
    from microau.runs import ensure_runs, make_run_config, read_run
    from microau.train.data import load_train_data

    t_start = time.perf_counter()
    quick = make_run_config("quick", "full", args.datasets[0])
    clip_model = quick.clip_model
    out: list[str] = [f"Quick profile: `{clip_model}`, {quick.epochs} epochs, visual blocks trained "
                      f"{quick.visual_trainable_blocks}, text blocks trained {quick.text_trainable_blocks}. "
                      "All numbers: phantom data, LOSO, seed 1 unless said."]

    # 1. backbones ----------------------------------------------------------------------------
    t = time.perf_counter()
    paths = ensure_backbones(clip_model, args.draws)
    t_pretrain = time.perf_counter() - t
    full = {(b, d): make_run_config("quick", "full", d).replace(backbone_seed=b)
            for b in args.draws for d in args.datasets}
    balanced = {(b, d): c.replace(class_weights="balanced") for (b, d), c in full.items() if b == args.draws[0]}
    t = time.perf_counter()
    ensure_runs(list(full.values()) + list(balanced.values()), args.runs, progress=False)
    t_runs = time.perf_counter() - t
    f1 = {k: read_run(c, args.runs).f1 for k, c in full.items()}
    rows = ["| draw | steps | loss (last 10) | global / local | plateau: last 10 % vs the 10 % before | "
            + " | ".join(f"probe {d}" for d in args.datasets) + " | "
            + " | ".join(f"F1 {d}" for d in args.datasets) + " | pretraining s |",
            "|" + "---|" * (6 + 2 * len(args.datasets))]
    probes = {}
    for b, path in zip(args.draws, paths):
        import json

        rep = json.loads(path.with_suffix(".json").read_text())["report"]
        plateau = rep.get("plateau", {})
        for d in args.datasets:
            probes[(b, d)] = token_probe(full[(b, d)], str(path))
        rows.append(f"| {b} | {rep['steps']} | {rep['loss_last_10']:.3f} | {rep.get('global_last_10', float('nan')):.3f} / "
                    f"{rep.get('local_last_10', float('nan')):.3f} | {100 * plateau.get('relative_drop', float('nan')):+.1f} % "
                    f"({'flat' if plateau.get('flat') else 'still falling'}) | "
                    + " | ".join(f"{probes[(b, d)]:.3f}" for d in args.datasets) + " | "
                    + " | ".join(f"{f1[(b, d)]:.3f}" for d in args.datasets)
                    + f" | {rep['total_s']:.0f}{' (draws ' + ', '.join(map(str, rep['batched_seeds'])) + ' together)' if rep.get('batched_seeds') else ''} |")
    stats = []
    for d in args.datasets:
        v = np.array([f1[(b, d)] for b in args.draws])
        pr = np.array([probes[(b, d)] for b in args.draws])
        sd = float(v.std(ddof=1)) if len(v) > 1 else float("nan")
        stats.append(f"- {d}: full model mean F1 {v.mean():.3f}, sd over {len(v)} draws {sd:.3f} "
                     f"(target: >= 0.75 and sd <= 0.02: {'met' if v.mean() >= 0.75 and sd <= 0.02 else 'not met'}); "
                     f"probe {pr.min():.3f} to {pr.max():.3f} (target >= 0.80: {'met' if pr.min() >= 0.80 else 'not met'}).")
    out += ["", "**Backbones** (one row per pretraining draw; F1 = the full model, plain CE, seed 1)", "",
            *rows, "", *stats]

    # 2. resolution ---------------------------------------------------------------------------
    out += ["", "**Resolution**: per AU, the share of its candidate (Table I) tokens that are peak tokens in "
            "clips where it is active (mean over clips). A share near 1 means every candidate token moves, "
            "and no attention over them can be told from uniform.", ""]
    for d in args.datasets:
        out += peak_share_rows(read_run(full[(args.draws[0], d)], args.runs), d)

    # 3. fair comparisons ---------------------------------------------------------------------
    out += ["", "**Fair comparisons** (mean F1; backbone draw " + str(args.draws[0]) + ", seed 1)", "",
            "| data | baseline, class-weighted | baseline, plain | model, plain CE (paper) | "
            "model, class-balanced CE (our reading) |", "|---|---|---|---|---|"]
    fair_notes = []
    for d in args.datasets:
        data = load_train_data(full[(args.draws[0], d)], progress=False)
        bw, bp = run_baseline_loso(data, balanced=True).f1, run_baseline_loso(data, balanced=False).f1
        mp, mb = f1[(args.draws[0], d)], read_run(balanced[(args.draws[0], d)], args.runs).f1
        out.append(f"| {d} | {bw:.3f} | {bp:.3f} | {mp:.3f} | {mb:.3f} |")
        fair_notes.append(f"- {d}: class-weighted baseline minus plain-CE model {bw - mp:+.3f}; weighting the "
                          f"baseline's classes changes it by {bw - bp:+.3f}, balancing the model's CE by "
                          f"{mb - mp:+.3f}; like for like, baseline minus model {bp - mp:+.3f} (both plain) and "
                          f"{bw - mb:+.3f} (both weighted). Single runs: compare with the band of the "
                          "seed-spread page before reading a direction.")
    out += ["", *fair_notes]

    # 4. sweep ----------------------------------------------------------------------------------
    if args.sweep:
        out += ["", "**Sweep** (one change at a time from the quick profile; draw " + str(args.draws[0]) + ", seed 1)", "",
                "| change | " + " | ".join(f"F1 {d}" for d in args.datasets) + " | seconds |",
                "|---|" + "---|" * (len(args.datasets) + 1)]
        b0 = args.draws[0]
        out.append("| none (the quick profile) | " + " | ".join(f"{f1[(b0, d)]:.3f}" for d in args.datasets) + " | |")
        global_only = dataclasses.replace(settings_for_draw(b0), local_weight=0.0)
        from microau.pretrain.checkpoint import ensure_backbone

        t = time.perf_counter()
        ensure_backbone(clip_model, progress=False, settings=global_only)
        t_global = time.perf_counter() - t
        changes = {
            "last visual block trained": dict(visual_trainable_blocks=1),
            "16 epochs (lr / 10 at 12)": dict(epochs=16, lr_decay_epoch=12),
            "pretrained with the global loss only": dict(pretrained=str(checkpoint_path(clip_model, global_only))),
        }
        for name, over in changes.items():
            cfgs = [full[(b0, d)].replace(**over) for d in args.datasets]
            t = time.perf_counter()
            ensure_runs(cfgs, args.runs, progress=False)
            secs = time.perf_counter() - t + (t_global if "global" in name else 0.0)
            out.append(f"| {name} | " + " | ".join(f"{read_run(c, args.runs).f1:.3f}" for c in cfgs)
                       + f" | {secs:.0f} |")

    # 5. rerun check --------------------------------------------------------------------------
    if args.rerun_check:
        from microau.pretrain.checkpoint import ensure_backbone

        b0 = args.draws[0]
        nudged = dataclasses.replace(settings_for_draw(b0), init_ulps=1)
        path = ensure_backbone(clip_model, progress=False, settings=nudged)
        cfgs = {d: full[(b0, d)].replace(pretrained=str(path)) for d in args.datasets}
        ensure_runs(list(cfgs.values()), args.runs, progress=False)
        out += ["", "**Rerun check**: draw " + str(b0) + " pretrained again with one initial weight moved by one "
                "unit in the last place, then fine-tuned (seed 1).", ""]
        for d in args.datasets:
            grid = {draws.draw_key(b, 1): f1[(b, d)] for b in args.draws}
            spread = draws.spread_of_draws(grid) if len(grid) > 1 else None
            band = noise.seed_band(spread) if spread is not None else float("nan")
            diff = read_run(cfgs[d], args.runs).f1 - f1[(b0, d)]
            out.append(f"- {d}: F1 moved by {diff:+.3f}; the band over {len(args.draws)} backbone draws is "
                       f"±{band:.3f}: {'inside' if abs(diff) <= band else 'OUTSIDE'} the band.")

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    run_s = [float(read_run(c, args.runs).meta.get("timings", {}).get("total_s", float("nan"))) for c in full.values()]
    out += ["", f"Times as recorded when each was made: pretraining in the Backbones table; the full model's "
            f"LOSO runs {min(run_s):.0f} to {max(run_s):.0f} s each (trained in stacks, so the stack's time). "
            f"This invocation (what was cached was read back): pretraining or reading the backbones {t_pretrain:.0f} s, "
            f"the full-model runs {t_runs:.0f} s, everything {time.perf_counter() - t_start:.0f} s; "
            f"{platform.machine()}, {os.cpu_count()} cores, load average {load:.1f} at the end."]
    text = "\n".join(out) + "\n"
    print(text)
    if args.save:
        from microau.train.store import write_text_atomic

        write_text_atomic(Path(args.save), text)
    return 0


def token_probe(cfg, pretrained: str) -> float:
    """Mean F1 of a LOSO logistic regression on the frozen visual tokens at each AU's Table I
    landmarks (averaged per AU, Eq. 1's token choice, after ln_post): what the backbone passes on."""
    import numpy as np
    import torch

    from microau.aus import AU_LANDMARKS
    from microau.baseline import fit_predict_au
    from microau.model.backbone import VisualTower, load_clip
    from microau.model.tokens import landmark_token_index
    from microau.train.data import load_train_data
    from microau.train.metrics import au_metrics

    data = load_train_data(cfg, progress=False)
    clip = load_clip(cfg.clip_model, pretrained).eval()
    tower = VisualTower(clip, 0)
    with torch.no_grad():
        _, tokens = tower(data.images)  # [M, h, w, d]
    h, w = tokens.shape[1:3]
    tokens = tokens.reshape(len(tokens), h * w, -1).numpy()
    size = data.images.shape[-1]
    index = landmark_token_index(data.landmarks, (size, size), (h, w)).numpy()
    feats = np.concatenate([np.stack([tokens[m, index[m, list(AU_LANDMARKS[a])]].mean(0) for m in range(len(tokens))])
                            for a in data.aus], axis=1)
    labels, subjects = data.labels.numpy(), np.asarray(data.subjects)
    preds = np.zeros_like(labels)
    for s in data.fold_subjects:
        test = subjects == s
        for n in range(labels.shape[1]):
            preds[test, n] = fit_predict_au(feats[~test], labels[~test, n], feats[test])
    return float(au_metrics(labels, preds, [f"AU{a}" for a in data.aus]).f1.iloc[-1])


def peak_share_rows(result, dataset: str) -> list[str]:
    """Markdown rows: per AU, the mean share of its distinct candidate tokens that are peak tokens
    (``mechanisms.peak_tokens`` of the phantom's true motion), in clips where the generator moved
    it, at the run's grid and at a 7 x 7 grid."""
    import numpy as np

    from microau import mechanisms
    from microau.data.phantom import read_truth
    from microau.data.registry import root_for

    truth = mechanisms.ground_truth_for_run(result)
    records = read_truth(root_for(result.config))
    shares = {}
    grids = list(dict.fromkeys([tuple(truth.grid), (7, 7)]))
    for grid in grids:
        motion = mechanisms.truth_token_motion(records, truth.ids, truth.landmarks, truth.aus, truth.image_size, grid)
        index, valid = mechanisms.region_tokens(truth.landmarks, truth.aus, truth.image_size, grid)
        peak = mechanisms.peak_tokens(motion, index, valid)
        per_au = []
        for n in range(len(truth.aus)):
            vals = []
            for m in np.flatnonzero(truth.generator_labels[:, n] == 1):
                cand = np.unique(index[m, n][valid[n]])
                if peak[m, n, cand].any():
                    vals.append(peak[m, n, cand].mean())
            per_au.append(float(np.mean(vals)) if vals else float("nan"))
        shares[grid] = per_au
    rows = [f"| {dataset} | " + " | ".join(f"AU{a}" for a in truth.aus) + " |",
            "|---|" + "---|" * len(truth.aus)]
    for g in grids:
        rows.append(f"| {g[0]} x {g[1]} grid | " + " | ".join(f"{v:.2f}" for v in shares[g]) + " |")
    rows.append("")
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
