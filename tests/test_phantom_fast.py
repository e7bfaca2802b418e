"""The phantom's fast paths compute exactly what the plain ones do, and a set written by several
processes is byte for byte the set written by one (the fork pool, microau.forkpool)."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from microau import forkpool
from microau.data import phantom as ph
from microau.data.phantom import motion, render


def _bumps(rng, n, w=640, h=480):
    out = []
    for _ in range(n):
        c = rng.uniform([-60, -60], [w + 60, h + 60])  # some centres off the frame
        v = rng.standard_normal(2)
        out.append((c, v / np.hypot(*v), float(rng.uniform(0.3, 1)), float(rng.uniform(4, 30))))
    return out


def test_windowed_displacement_equals_the_plain_one():
    rng = np.random.default_rng(3)
    xx, yy = render.pixel_grid(480, 640)
    # warped sample coordinates, as the apex frame uses them (rotation + local bulge)
    qx = (0.999 * xx - 0.02 * yy + 3.3 + 2 * np.sin(yy / 40)).astype(np.float32)
    qy = (0.02 * xx + 0.999 * yy - 1.7).astype(np.float32)
    for scale in (0.7, 1.0, 2.0):
        bumps = _bumps(rng, 12)
        fast = motion.displacement(qx, qy, bumps, 1.3, scale)
        plain = motion.displacement_plain(qx, qy, bumps, 1.3, scale)
        for a, b in zip(fast, plain):
            assert a.dtype == b.dtype and np.array_equal(a, b)
        assert np.abs(fast[0]).max() > 0
    pts = np.array([[10.0, 20.0], [300.0, 200.0]], np.float32)  # 1-D inputs take the plain path
    np.testing.assert_array_equal(motion.displacement(pts[:, 0], pts[:, 1], bumps, 1.0)[0],
                                  motion.displacement_plain(pts[:, 0], pts[:, 1], bumps, 1.0)[0])


@pytest.mark.parametrize("gray", [False, True])
def test_in_place_colour_transform_equals_the_plain_one(gray):
    rng = np.random.default_rng(1)
    img = rng.uniform(-5, 260, (48, 64, 3)).astype(np.float32)
    kept = img.copy()
    col = {"gains": [1.05, 0.97, 1.01], "gamma": 1.13, "contrast": 0.91, "brightness": -6.5,
           "shade": [0.12, -0.05]}
    for gain, grad in ((1.0, (0.0, 0.0)), (1.004, tuple(rng.standard_normal(2) * 0.005))):
        fast = render.colour_transform(img, col, gray, gain, grad)
        plain = render.colour_transform_plain(img, col, gray, gain, grad)
        assert fast.dtype == plain.dtype == np.float32 and np.array_equal(fast, plain)
    assert np.array_equal(img, kept)  # the input is not changed


def test_rendered_clips_equal_those_of_the_plain_functions(monkeypatch):
    """A whole clip (colour and grey, offsite and unilateral motion): fast == plain, bit for bit."""
    for like, st in (("casme2", ph.PhantomSettings()), ("samm", ph.PhantomSettings(motion_anchor="offsite"))):
        subj = ph.make_subject(like, 0, 1, st)
        plan = ph.plan_labels(like, 0, st)[1][0]
        plan = ph.ClipPlan(**{**plan.__dict__, "selected_aus": (4, 12), "sides": {12: "L"}})
        fast = render.render_clip(subj, plan, 0, st)
        with monkeypatch.context() as m:
            m.setattr(render, "colour_transform", render.colour_transform_plain)
            m.setattr(render, "displacement",
                      lambda qx, qy, b, a, s=1.0, bounds=None: motion.displacement_plain(qx, qy, b, a, s))
            plain = render.render_clip(subj, plan, 0, st)
        assert np.array_equal(fast.onset, plain.onset) and np.array_equal(fast.apex, plain.apex)
        assert fast.truth == plain.truth and not np.array_equal(fast.onset, fast.apex)


def test_a_set_written_by_two_processes_equals_one_written_by_one(tmp_path, monkeypatch):
    monkeypatch.setenv("MICROAU_PHANTOM_WORKERS", "1")
    one = ph.write_phantom("samm", tmp_path / "one", seed=0, n_subjects=3, progress=False)
    monkeypatch.setenv("MICROAU_PHANTOM_WORKERS", "2")
    two = ph.write_phantom("samm", tmp_path / "two", seed=0, n_subjects=3, progress=False)
    files = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(two) for p in two.rglob("*") if p.is_file())
    assert len(files) > 10
    for rel in files:
        assert (one / rel).read_bytes() == (two / rel).read_bytes(), rel


# ----------------------------------------------------------------------------- the fork pool
def _square(x):
    return x * x


def _fails(x):
    if x == 3:
        raise KeyError(f"item {x}")
    return x


def test_fork_map_keeps_the_order_and_raises_what_a_task_raised():
    seen = []
    assert forkpool.fork_map(_square, range(7), 2, on_result=lambda i, r: seen.append(i)) == [
        x * x for x in range(7)]
    assert sorted(seen) == list(range(7))
    assert forkpool.fork_map(_square, [5], 4) == [25]  # one item: in this process
    with pytest.raises(KeyError, match="item 3"):
        forkpool.fork_map(_fails, range(6), 2)
    assert forkpool.fork_map(_square, range(3), 2, torch_free=False) == [0, 1, 4]  # no fork: serial


def test_fork_map_does_not_hang_after_torch_and_opencv_threads_ran():
    """Children forked after the parent used OpenCV's and torch's threads run OpenCV (inherited
    at one thread: resizing OpenCV's pool inside such a child hangs, measured) and the parent gets
    its thread count back. Run in a fresh interpreter, with a time limit."""
    code = textwrap.dedent("""
        import cv2, numpy as np, torch
        from microau.forkpool import fork_map
        from microau.prep.flow import to_gray01, tvl1_flow
        n0 = cv2.getNumThreads()
        a = np.random.RandomState(0).randint(0, 255, (48, 48), np.uint8)
        tvl1_flow(a, np.roll(a, 1, 1))            # OpenCV's thread pool in use
        x = torch.randn(300, 300); (x @ x).sum()  # torch's threads in use
        rgb = np.random.RandomState(1).randint(0, 255, (480, 640, 3), np.uint8)
        out = fork_map(to_gray01, [rgb] * 4, 2)   # OpenCV in the children
        print(len(out), all(np.array_equal(o, to_gray01(rgb)) for o in out), cv2.getNumThreads() == n0)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["4", "True", "True"]


def _warns(x):
    import logging

    logging.getLogger("microau.test").warning("task %s says %s", x, {"a": object()})
    return x


def test_fork_map_hands_a_childs_log_records_to_this_process(caplog):
    with caplog.at_level("WARNING", logger="microau"):
        assert forkpool.fork_map(_warns, [1, 2, 3], 2) == [1, 2, 3]
    said = sorted(r.getMessage().split(" says")[0] for r in caplog.records if r.name == "microau.test")
    assert said == ["task 1", "task 2", "task 3"]
