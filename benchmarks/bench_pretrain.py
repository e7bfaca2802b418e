"""How long ``microau pretrain`` takes, and how close the rendered flow is to TV-L1's.

    python benchmarks/bench_pretrain.py --save book/benchmarks/pretrain_cpu.md
    python benchmarks/bench_pretrain.py --calibrate 12    # also compare with TV-L1 on 12 clips

Pretraining runs from scratch into a temporary cache (never the user's), and the wall time, the
process CPU time (all threads: about what an idle machine with that many cores needs in wall
time times the cores used) and the load average are printed.

``--calibrate K`` writes K clips of a phantom set under a corpus identity seed (never the
evaluation seed), prepares them with the real pipeline (TV-L1 on the x3-magnified crop), renders the
same clips' known motion with ``microau.pretrain.render`` (no noise, gain 1) and fits, per clip,
TV-L1 = g * rendered + residual over the crop: it prints g and the residual rms, the two things
the corpus draws from ``tvl1_gain_range`` and ``tvl1_noise_px_range``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def calibrate(n_clips: int) -> list[dict]:
    import numpy as np

    from microau.data.loading import load_samples
    from microau.data.phantom import write_phantom
    from microau.prep.pipeline import PrepSettings, prepare_clip
    from microau.pretrain.corpus import CorpusClip, CorpusSettings, Identity, au_sentences, caption
    from microau.pretrain.render import au_displacement, head_displacement

    st = CorpusSettings()
    seed = st.identity_seeds[0]
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        root = write_phantom("casme2", Path(tmp) / "set", seed=seed, n_subjects=2, progress=False)
        truth = {(t["subject"], t["clip"]): t for t in _read_truth(root)}
        samples = load_samples("phantom-casme2", root)[:n_clips]
        for s in samples:
            c = prepare_clip(s, PrepSettings(), use_cache=False)
            t = truth[(s.subject, s.clip)]
            x0, y0, side = c.crop_box
            scale = c.flow.shape[0] / side
            lm = (np.asarray(t["landmarks_onset"]) - [x0, y0]) * scale
            aus = tuple(t["aus"])
            clip = CorpusClip(0, aus, {int(k): v for k, v in t["sides"].items()},
                              {int(k): v for k, v in t["amplitude_px"].items()},
                              (*t["head_shift_px"], t["head_rotation_deg"], t["head_scale"] - 1.0), caption(aus),
                              au_sentences(aus))
            ident = Identity("casme2", seed, 0, lm, scale, 1.0)
            n = c.flow.shape[0]
            ax, ay = au_displacement(clip, lm, scale, n)
            hx, hy = head_displacement(clip, lm, scale, n)
            r = np.stack([ax + hx, ay + hy], -1) * st.magnify_factor
            tv = c.flow
            g = float((tv * r).sum() / max(1e-9, (r * r).sum()))
            res = tv - g * r
            out.append({"clip": s.id, "aus": list(aus), "peak_rendered_px": float(np.abs(r).max()),
                        "gain": g, "residual_rms_px": float(res.std())})
            del ident
    return out


def _read_truth(root):
    from microau.data.phantom import read_truth

    return read_truth(root)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="microau-tiny")
    p.add_argument("--calibrate", type=int, default=0, metavar="K")
    p.add_argument("--no-pretrain", action="store_true", help="only the calibration")
    p.add_argument("--from-cache", action="store_true",
                   help="report the times recorded when the cached checkpoint was made, do not pretrain")
    p.add_argument("--save", default=None)
    args = p.parse_args(argv)

    import numpy as np
    import torch

    lines = [f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPU core(s) ({platform.machine()}), "
             f"{torch.get_num_threads()} torch threads, with: `python benchmarks/bench_pretrain.py "
             f"{' '.join(sys.argv[1:] if argv is None else argv)}`", ""]
    if args.from_cache:
        from microau.pretrain.checkpoint import checkpoint_path, is_valid

        path = checkpoint_path(args.model)
        if not is_valid(path):
            raise SystemExit(f"no valid cached checkpoint at {path}: run `microau pretrain` first")
        rep = json.loads(path.with_suffix(".json").read_text())["report"]
        lines += ["```text",
                  f"pretrain {args.model} (recorded when {path.name} was made): {rep['pairs']} pairs "
                  f"({rep['distinct_sentences']} distinct sentences, targets {rep.get('targets', 'whole')}), "
                  f"{rep['steps']} steps",
                  f"  loss {rep['loss_first']:.3f} (first step) -> {rep['loss_last_10']:.3f} (mean of the last 10)",
                  f"  wall {rep['total_s']:.0f} s (corpus rendering {rep['render_s']:.0f} s), "
                  f"process CPU {rep['cpu_s']:.0f} s, {rep['torch_threads']} torch threads",
                  f"  load average now {os.getloadavg()[0]:.1f} (a shared machine: wall time is an upper "
                  "bound of an idle machine's)", "```", ""]
    elif not args.no_pretrain:
        from microau.pretrain.checkpoint import ensure_backbone

        load0 = os.getloadavg()[0]
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["MICROAU_CACHE"] = tmp
            t0, c0 = time.perf_counter(), time.process_time()
            path = ensure_backbone(args.model, progress=False, force=True)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            rep = json.loads(path.with_suffix(".json").read_text())["report"]
        lines += ["```text",
                  f"pretrain {args.model}: {rep['pairs']} pairs ({rep['distinct_sentences']} distinct sentences), "
                  f"{rep['steps']} steps",
                  f"  loss {rep['loss_first']:.3f} (first step) -> {rep['loss_last_10']:.3f} (mean of the last 10)",
                  f"  wall {wall:.0f} s (corpus rendering {rep['render_s']:.0f} s), process CPU {cpu:.0f} s",
                  f"  load average {load0:.1f} before, {os.getloadavg()[0]:.1f} after "
                  "(a shared machine: wall time is an upper bound of an idle machine's)",
                  "```", ""]
    if args.calibrate:
        rows = calibrate(args.calibrate)
        moving = [r for r in rows if r["peak_rendered_px"] > 0.5]
        lines += ["Rendered flow against TV-L1 on prepared phantom clips (seed of the corpus identities):",
                  "", "```text"]
        lines += [f"{r['clip']:28s} AUs {'+'.join(map(str, r['aus'])) or '-':10s} peak {r['peak_rendered_px']:.2f} px"
                  f"  gain {r['gain']:.2f}  residual rms {r['residual_rms_px']:.3f} px" for r in rows]
        if moving:
            g = np.array([r["gain"] for r in moving])
            res = np.array([r["residual_rms_px"] for r in rows])
            lines += [f"gain over clips with > 0.5 px peak motion: median {np.median(g):.2f}, "
                      f"range {g.min():.2f}-{g.max():.2f}; residual rms median {np.median(res):.3f} px, "
                      f"range {res.min():.3f}-{res.max():.3f} px"]
        lines += ["```", ""]
    text = "\n".join(lines)
    print(text)
    if args.save:
        from microau.train.store import write_text_atomic

        write_text_atomic(Path(args.save), text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
