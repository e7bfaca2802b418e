"""Writing the phantom, measured: per clip (rendering with the plain and the fast functions, JPEG
encoding) and per set (one worker process against one per core).

    python benchmarks/bench_phantom.py [--subjects 4] [--clips 6]

The plain and fast rendering take turns clip by clip (best of three each) and must give the same
frames, bit for bit; the load average is printed before and after (a busy machine is slower).
"""
from __future__ import annotations

import argparse
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


def render_times(like: str, n_clips: int) -> dict[str, float]:
    """Seconds per clip: rendering (fast and plain functions) and encoding both frames as JPEG."""
    import cv2

    from microau.data import phantom as ph
    from microau.data.phantom import motion, render

    st = ph.PhantomSettings()
    plans = [p for sub in ph.plan_labels(like, 0, st)[:3] for p in sub][:n_clips]
    subjects = {p.subject_index: ph.make_subject(like, 0, p.subject_index, st) for p in plans}
    fast_fns = (render.colour_transform, render.displacement)
    plain_fns = (render.colour_transform_plain,
                 lambda qx, qy, b, a, s=1.0, bounds=None: motion.displacement_plain(qx, qy, b, a, s))
    best = {"fast": [], "plain": [], "jpeg": []}
    try:
        for p in plans:
            out = {}
            for name, (ct, dp) in (("plain", plain_fns), ("fast", fast_fns)):
                render.colour_transform, render.displacement = ct, dp
                t = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    out[name] = render.render_clip(subjects[p.subject_index], p, 0, st)
                    t.append(time.perf_counter() - t0)
                best[name].append(min(t))
            assert np.array_equal(out["fast"].apex, out["plain"].apex), "fast and plain frames differ"
            t0 = time.perf_counter()
            for img in (out["fast"].onset, out["fast"].apex):
                arr = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
                cv2.imencode(".jpg", arr, [cv2.IMWRITE_JPEG_QUALITY, st.jpeg_quality])
            best["jpeg"].append(time.perf_counter() - t0)
    finally:
        render.colour_transform, render.displacement = fast_fns
    return {k: float(np.mean(v)) for k, v in best.items()}


def write_times(like: str, subjects: int) -> dict[int, tuple[float, int]]:
    """workers -> (seconds, clips) to write the first ``subjects`` subjects of a phantom."""
    from microau.data import phantom as ph
    from microau.forkpool import available_cores

    out = {}
    for workers in sorted({1, available_cores()}):
        os.environ["MICROAU_PHANTOM_WORKERS"] = str(workers)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            root = ph.write_phantom(like, Path(tmp) / "set", seed=0, n_subjects=subjects, progress=False)
            out[workers] = (time.perf_counter() - t0, len(ph.read_truth(root)))
    os.environ.pop("MICROAU_PHANTOM_WORKERS", None)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--subjects", type=int, default=4)
    p.add_argument("--clips", type=int, default=6)
    args = p.parse_args()

    from microau.data.phantom.render import base_faces

    print(f"phantom writing, {os.cpu_count()} core(s); load average before {_load()}")
    t0 = time.perf_counter()
    base_faces()
    print(f"  base faces found (dlib, once per process): {time.perf_counter() - t0:.2f} s")
    for like in ("casme2", "samm"):
        r = render_times(like, args.clips)
        print(f"  {like}: per clip: render plain {1000 * r['plain']:.0f} ms, fast {1000 * r['fast']:.0f} ms "
              f"({r['plain'] / r['fast']:.2f}x, same frames); JPEG both frames {1000 * r['jpeg']:.1f} ms")
        for workers, (sec, n) in write_times(like, args.subjects).items():
            print(f"  {like}: {args.subjects} subjects ({n} clips) written by {workers} worker(s): {sec:.1f} s "
                  f"({1000 * sec / n:.0f} ms per clip, subjects drawn and files included)")
    print(f"load average after {_load()}")


if __name__ == "__main__":
    main()
