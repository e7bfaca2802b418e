"""Cheaper preparation settings, measured: time per clip and how far the flow moves from the default.

    python benchmarks/bench_prepare.py [--clips 20] [--repeat 1] [--save FILE]

On phantom clips (half CASME II-like, half SAMM-like, written to a temporary folder) each setting
below prepares every clip in this process, one clip after another (no cache, no worker pool), with
the seconds of each stage. The settings take turns clip by clip, so a busy machine slows them
alike; the load average is printed before and after. Compared with the default (224 px, TV-L1 with
5 scales and 5 warps, face search at up to 800 px):

* ``size 112``: crops, flow and landmarks at 112 px, ``flow_scale`` doubled (32) so that one grey
  level is the same fraction of the face crop as at 224;
* ``nscales 3``, ``warps 3``: fewer TV-L1 pyramid levels / warps per level;
* ``detect 400``: dlib searches frames shrunk to at most 400 px (the phantom's are 640 x 480);
* ``size 112, nscales 3, warps 3`` and ``all four``: the changes together.

Each clip runs with OpenCV at one thread, as in the preparation's worker processes (one per core).

Flow differences are in pixels of the default 224 px crop (a 112 px flow is resized and doubled
first): EPE is the mean end-point error against the default's flow over the crop, ``rel`` that
over the default's mean flow magnitude, ``AU r`` the correlation over clips and AU regions of the
mean flow magnitude at the Table I landmarks (what PTA and the region baseline read), ``lm`` the
mean landmark shift, ``box`` the mean shift of the face box corners (frame pixels).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def settings_to_compare():
    from microau.prep.pipeline import PrepSettings

    ref = PrepSettings()
    cheap = dict(size=112, flow_scale=2 * ref.flow_scale, tvl1_nscales=3, tvl1_warps=3, detect_max_side=400)
    return {
        "default (224, 5 scales, 5 warps, detect 800)": ref,
        "size 112 (flow_scale 32)": dataclasses.replace(ref, size=112, flow_scale=2 * ref.flow_scale),
        "nscales 3": dataclasses.replace(ref, tvl1_nscales=3),
        "warps 3": dataclasses.replace(ref, tvl1_warps=3),
        "detect 400": dataclasses.replace(ref, detect_max_side=400),
        "size 112, nscales 3, warps 3": dataclasses.replace(ref, **{k: v for k, v in cheap.items()
                                                                    if k != "detect_max_side"}),
        "all four": dataclasses.replace(ref, **cheap),
    }


def phantom_clips(folder: Path, n: int):
    from microau.data import phantom as ph
    from microau.data.registry import load_samples

    out = []
    for like, name in (("casme2", "phantom-casme2"), ("samm", "phantom-samm")):
        want = n // 2 if like == "casme2" else n - n // 2
        subjects = 1
        while True:
            root = ph.write_phantom(like, folder / f"{like}-{subjects}", seed=0, n_subjects=subjects, progress=False)
            samples = load_samples(name, root)
            if len(samples) >= want or subjects >= 8:
                break
            subjects += 1
        out += samples[:want]
    return out


def _at_ref_scale(clip: dict, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Flow (px of a 224 crop) and landmarks of a clip prepared at ``size``."""
    import cv2

    flow = clip["flow"].astype(np.float32)
    lm = clip["landmarks"].astype(np.float64)
    if size != 224:
        k = 224 / size
        flow = cv2.resize(flow, (224, 224), interpolation=cv2.INTER_LINEAR) * k
        lm = (lm + 0.5) * k - 0.5
    return flow, lm


def au_region_motion(flow: np.ndarray, lm: np.ndarray) -> np.ndarray:
    from microau.aus import AU_LANDMARKS
    from microau.prep.flow import region_motion

    return np.array([region_motion(flow, lm, idx)[2] for idx in AU_LANDMARKS.values()])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clips", type=int, default=20)
    p.add_argument("--repeat", type=int, default=1, help="time every clip this many times (the best counts)")
    p.add_argument("--save", default=None, help="also write the figures as a markdown file")
    args = p.parse_args()

    import cv2

    from microau.prep import pipeline
    from microau.prep.faces import _predictor

    cv2.setNumThreads(1)  # as in the preparation's workers, which run one per core

    configs = settings_to_compare()
    load_before = _load()
    with tempfile.TemporaryDirectory() as tmp:
        samples = phantom_clips(Path(tmp), args.clips)
        _predictor()  # the model's loading is not a per-clip cost
        results = {name: [] for name in configs}
        times = {name: [] for name in configs}
        for s in samples:
            for name, st in configs.items():
                best = None
                for _ in range(args.repeat):
                    stage: dict[str, float] = {}
                    d = pipeline._compute(s, st, stage)
                    if best is None or sum(stage.values()) < sum(best.values()):
                        best = stage
                results[name].append(d)
                times[name].append(best)
    ref_name = next(iter(configs))
    ref = [_at_ref_scale(d, 224) for d in results[ref_name]]
    ref_mag = np.mean([np.hypot(*f.transpose(2, 0, 1)).mean() for f, _ in ref])
    ref_au = np.concatenate([au_region_motion(f, lm) for f, lm in ref])
    stages = [k for k in pipeline.STAGES if k != "cache"]
    head = f"{'setting':46s} {'ms/clip':>8s} " + " ".join(f"{k:>9s}" for k in stages) + \
           f" {'EPE px':>7s} {'rel':>5s} {'AU r':>6s} {'lm px':>6s} {'box px':>6s}"
    lines = [f"preparation of {len(samples)} phantom clips, one process, cv2 threads {cv2.getNumThreads()}, "
             f"{os.cpu_count()} core(s); load average before {load_before}", head]
    for name, st in configs.items():
        per = {k: 1000 * np.mean([t.get(k, 0.0) for t in times[name]]) for k in stages}
        got = [_at_ref_scale(d, st.size) for d in results[name]]
        epe = np.mean([np.hypot(*(f - r).transpose(2, 0, 1)).mean() for (f, _), (r, _) in zip(got, ref)])
        lm_shift = np.mean([np.hypot(*(lm - rl).T).mean() for (_, lm), (_, rl) in zip(got, ref)])
        box = np.mean([np.abs(d["face_box"] - r["face_box"]).mean()
                       for d, r in zip(results[name], results[ref_name])])
        au = np.concatenate([au_region_motion(f, lm) for f, lm in got])
        r_au = float(np.corrcoef(au, ref_au)[0, 1])
        lines.append(f"{name:46s} {sum(per.values()):8.0f} " + " ".join(f"{per[k]:9.0f}" for k in stages)
                     + f" {epe:7.3f} {epe / ref_mag:5.2f} {r_au:6.3f} {lm_shift:6.2f} {box:6.1f}")
    lines.append(f"default's mean flow magnitude {ref_mag:.3f} px (224 px crop); load average after {_load()}")
    text = "\n".join(lines)
    print(text)
    if args.save:
        from microau.train.store import write_text_atomic

        write_text_atomic(Path(args.save), f"Measured {time.strftime('%Y-%m-%d')} with: "
                          f"`python benchmarks/bench_prepare.py --clips {args.clips}`\n\n```text\n{text}\n```\n")


if __name__ == "__main__":
    main()
