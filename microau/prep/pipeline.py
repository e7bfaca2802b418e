"""From an onset/apex pair to the model's inputs (Sec. III-A, IV-A).

Per clip:

1. read both frames (RGB; grey frames are expanded to 3 channels);
2. face box from the **onset** frame (dlib HOG detector, largest face);
3. crop both frames with the same square (``box_expand`` x the face box, centred on it and moved
   up by ``box_shift_up`` x its height so that the brows and forehead are in) and resize it to
   ``size`` x ``size`` (224);
4. magnify the onset -> apex change (``linear`` x3 by default, see ``microau.prep.magnify``);
5. TV-L1 flow onset crop -> magnified apex crop, encoded as a fixed-scale flow image
   (``microau.prep.flow``);
6. 68 landmarks on the magnified apex crop (dlib shape predictor in the onset face box mapped into
   the crop), which are then pixel coordinates (x, y) of the flow image.

Fallbacks (each logged with the clip id, counted, and stored in ``PreparedSet.fallbacks``):

* ``face_from_apex``: no face on the onset frame; the apex frame's face box is used.
* ``no_face_centre_crop``: no face on either frame; a centred square crop of ``no_face_crop`` x the
  shorter side, and the template landmark shape (``microau.prep.faces.template_landmarks``) placed
  in the face box that this crop would have come from.
* ``apex_resized``: the apex frame's size differs from the onset's; it is resized to it.
* ``jpeg_stray_header_bytes``: a frame carries stray bytes between its JPEG header segments, a
  warning that loses no pixel (:mod:`microau.prep.frames`); read as it is.

A missing, undecodable or damaged frame (a truncated JPEG, which OpenCV alone would decode with a
flat grey part: :func:`microau.prep.frames.check_image`) raises :class:`UnreadableFrameError`
naming the file and the clip (``on_unreadable='drop'``, the command line's ``--on-damaged-frame
drop``, instead leaves the clip out and records it in ``PreparedSet.dropped``; the choice does not
enter a clip's cache key, since it changes no prepared clip). A damaged cache entry is computed
again, with a warning naming the file.

:func:`prepare_frames` runs the same steps on two frames already in memory (``microau predict``);
with ``strict=True`` every fallback above is an error instead (:class:`NoFaceError`,
:class:`FrameSizeError`).
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from microau.data.types import Sample
from microau.prep import cache as _cache
from microau.prep.frames import (  # noqa: F401 (re-exported: the frame reader's names)
    JPEG_EOI, JPEG_SOS, NOTE_STRAY_HEADER_BYTES, DamagedFrameError, UnreadableFrameError, _jpeg_warning,
    _pillow_damage, check_image, image_damage, read_frame, read_frame_checked)

log = logging.getLogger(__name__)

FALLBACK_FACE_FROM_APEX = "face_from_apex"
FALLBACK_NO_FACE = "no_face_centre_crop"
FALLBACK_APEX_RESIZED = "apex_resized"

# how many clips this process computed (not read from the cache; clips computed by the worker
# processes it forked are added when their results arrive); for tests and reports
COMPUTE_COUNT = 0
_COUNT_LOCK = threading.Lock()
# the stages a clip's preparation is timed by (PreparedSet.seconds; 'cache': reading and writing entries)
STAGES = ("read", "detect", "crop", "magnify", "tvl1", "landmarks", "cache")


def _lap(times: dict | None, stage: str, t0: float) -> float:
    """Add the time since ``t0`` to ``times[stage]`` (when timing); the time now."""
    now = time.perf_counter()
    if times is not None:
        times[stage] = times.get(stage, 0.0) + now - t0
    return now


class NoFaceError(ValueError):
    """``strict`` preparation: dlib finds no face in the onset or the apex frame."""


class FrameSizeError(ValueError):
    """``strict`` preparation: the onset and apex frames differ in size."""


@dataclass(frozen=True)
class PrepSettings:
    """Every choice the preparation makes. All fields enter the cache key."""

    magnify: str = "linear"  # 'linear' (Eulerian, default) | 'learned' (Oh et al. 2018) | 'none'
    magnify_factor: float = 3.0
    magnify_blur_sigma: float = 1.0  # spatial low-pass of the apex-onset difference (crop px); 0 = plain
    learned_checkpoint: str | None = None  # state_dict of microau.prep.magnify.MagNet
    size: int = 224  # crop, flow image and landmark coordinate size
    flow_scale: float = 16.0  # grey levels per pixel of flow in the flow image (fixed)
    box_expand: float = 1.35  # crop side / dlib face box side
    box_shift_up: float = 0.05  # crop centre above the box centre, in box heights
    detect_max_side: int = 800  # frames larger than this are searched for the face downscaled
    no_face_crop: float = 0.8  # fallback crop side / shorter frame side
    landmarks_on: str = "magnified"  # 'magnified' apex (default) | 'apex' | 'onset' crop
    on_unreadable: str = "error"  # 'error' | 'drop'
    # Dual TV-L1 (OpenCV's defaults)
    tvl1_tau: float = 0.25
    tvl1_lambda: float = 0.15
    tvl1_theta: float = 0.3
    tvl1_nscales: int = 5
    tvl1_warps: int = 5
    tvl1_epsilon: float = 0.01
    tvl1_inner_iterations: int = 30
    tvl1_outer_iterations: int = 10
    tvl1_scale_step: float = 0.8
    tvl1_gamma: float = 0.0
    tvl1_median_filtering: int = 5

    def __post_init__(self):
        from microau.prep.magnify import METHODS

        if self.magnify not in METHODS:
            raise ValueError(f"magnify must be one of {METHODS}, got {self.magnify!r}")
        if self.landmarks_on not in ("magnified", "apex", "onset"):
            raise ValueError(f"landmarks_on must be 'magnified', 'apex' or 'onset', got {self.landmarks_on!r}")
        if self.on_unreadable not in ("error", "drop"):
            raise ValueError(f"on_unreadable must be 'error' or 'drop', got {self.on_unreadable!r}")

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    def tvl1(self) -> dict:
        return dict(
            tau=self.tvl1_tau, lambda_=self.tvl1_lambda, theta=self.tvl1_theta, nscales=self.tvl1_nscales,
            warps=self.tvl1_warps, epsilon=self.tvl1_epsilon, inner_iterations=self.tvl1_inner_iterations,
            outer_iterations=self.tvl1_outer_iterations, scale_step=self.tvl1_scale_step,
            gamma=self.tvl1_gamma, median_filtering=self.tvl1_median_filtering,
        )


@dataclass
class PreparedClip:
    """Everything the preparation made for one clip (all images ``size`` x ``size``)."""

    sample: Sample | None  # None for frames given in memory (prepare_frames)
    onset: np.ndarray  # uint8 [S, S, 3] cropped onset
    apex: np.ndarray  # uint8 [S, S, 3] cropped apex
    magnified: np.ndarray  # uint8 [S, S, 3] cropped, magnified apex
    flow: np.ndarray  # float32 [S, S, 2] (u, v) px, onset -> magnified apex
    flow_image: np.ndarray  # uint8 [S, S, 3]
    landmarks: np.ndarray  # float32 [68, 2] (x, y) flow-image pixels
    crop_box: tuple[float, float, float]  # (x0, y0, side) in frame pixels
    face_box: tuple[float, float, float, float]  # (left, top, right, bottom) in frame pixels
    fallback: str  # '' or '; '-joined reasons
    from_cache: bool = False
    key: str = ""

    def to_frame(self, pts: np.ndarray) -> np.ndarray:
        """Crop pixel coordinates -> frame pixel coordinates."""
        x0, y0, side = self.crop_box
        return np.asarray(pts, np.float64) * (side / self.flow_image.shape[1]) + [x0, y0]


@dataclass
class PreparedSet:
    """What the training code consumes; row i of every array belongs to ``samples[i]``."""

    samples: list[Sample]
    flow_images: np.ndarray  # uint8 [M, S, S, 3]
    landmarks: np.ndarray  # float32 [M, 68, 2] (x, y) flow-image pixels
    fallbacks: dict[str, str]  # clip id -> reason(s)
    settings: PrepSettings
    from_cache: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # bool [M]
    dropped: dict[str, str] = field(default_factory=dict)  # clip id -> why (on_unreadable='drop')
    seconds: dict[str, float] = field(default_factory=dict)  # stage -> seconds summed over clips; 'wall'

    def __len__(self) -> int:
        return len(self.samples)

    def fallback_counts(self) -> Counter:
        c: Counter = Counter()
        for reasons in self.fallbacks.values():
            for r in reasons.split("; "):
                c[r] += 1
        return c

    def subset(self, index) -> "PreparedSet":
        idx = np.asarray(index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        samples = [self.samples[i] for i in idx]
        ids = {s.id for s in samples}
        return PreparedSet(
            samples, self.flow_images[idx], self.landmarks[idx],
            {k: v for k, v in self.fallbacks.items() if k in ids}, self.settings,
            self.from_cache[idx] if len(self.from_cache) else self.from_cache, dict(self.dropped),
        )

    def summary(self) -> dict:
        return {
            "clips": len(self.samples),
            "cached": int(np.sum(self.from_cache)),
            "computed": int(len(self.samples) - np.sum(self.from_cache)),
            "fallbacks": dict(self.fallback_counts()),
            "dropped": len(self.dropped),
        }


# --------------------------------------------------------------------------- one clip


def crop_square(img: np.ndarray, x0: int, y0: int, side: int, size: int) -> np.ndarray:
    """Integer square crop (edges replicated outside the frame) resized to ``size``."""
    import cv2

    h, w = img.shape[:2]
    pad_l, pad_t = max(0, -x0), max(0, -y0)
    pad_r, pad_b = max(0, x0 + side - w), max(0, y0 + side - h)
    if pad_l or pad_t or pad_r or pad_b:
        img = cv2.copyMakeBorder(img, pad_t, pad_b, pad_l, pad_r, cv2.BORDER_REPLICATE)
        x0, y0 = x0 + pad_l, y0 + pad_t
    crop = img[y0:y0 + side, x0:x0 + side]
    interp = cv2.INTER_AREA if side >= size else cv2.INTER_CUBIC
    return cv2.resize(crop, (size, size), interpolation=interp)


def crop_for_box(box, st: PrepSettings) -> tuple[int, int, int]:
    """(x0, y0, side) integer crop square for a face box."""
    side = st.box_expand * max(box.width, box.height)
    cx, cy = box.center
    cy -= st.box_shift_up * box.height
    s = int(round(side))
    return int(round(cx - s / 2)), int(round(cy - s / 2)), s


def _compute(sample: Sample, st: PrepSettings, times: dict | None = None) -> dict:
    """All arrays of one clip (no cache); ``times`` collects seconds per stage."""
    cid = sample.id
    t = time.perf_counter()
    onset, onset_note = read_frame_checked(sample.onset_path, cid)
    apex, apex_note = read_frame_checked(sample.apex_path, cid)
    _lap(times, "read", t)
    for label, note in (("onset", onset_note), ("apex", apex_note)):
        if note:
            log.warning("clip %s: %s frame read with a harmless warning: %s", cid, label, note)
    notes = [NOTE_STRAY_HEADER_BYTES] if onset_note or apex_note else []
    return _compute_frames(onset, apex, st, cid, notes=notes, times=times)


def _no_face(label: str, img: np.ndarray) -> NoFaceError:
    h, w = img.shape[:2]
    return NoFaceError(
        f"no face found in the {label} ({w}x{h} pixels; dlib's frontal face detector, also with one "
        "up-sampling step): use frames with one frontal, well-lit face at least about 80 pixels "
        "wide, or crop the frames around the face")


def _compute_frames(onset: np.ndarray, apex: np.ndarray, st: PrepSettings, cid: str = "",
                    strict: bool = False, labels: tuple[str, str] = ("onset frame", "apex frame"),
                    notes: list[str] | None = None, times: dict | None = None) -> dict:
    """All arrays of one clip from its RGB frames (no cache). ``strict``: raise instead of falling
    back. ``notes``: reasons already recorded (a frame read with a harmless warning). ``times``
    collects seconds per stage (:data:`STAGES`)."""
    global COMPUTE_COUNT
    import cv2

    from microau.prep import faces
    from microau.prep.flow import flow_to_image, tvl1_flow
    from microau.prep.magnify import magnify

    reasons: list[str] = list(notes or [])
    if apex.shape != onset.shape:
        if strict:
            (h0, w0), (h1, w1) = onset.shape[:2], apex.shape[:2]
            raise FrameSizeError(
                f"the {labels[0]} is {w0}x{h0} pixels but the {labels[1]} is {w1}x{h1} (width x height): "
                "both frames must come from the same recording at the same size, so that one face "
                "crop fits both; give two frames of one video, or resize one to the other's size")
        apex = cv2.resize(apex, (onset.shape[1], onset.shape[0]), interpolation=cv2.INTER_AREA)
        reasons.append(FALLBACK_APEX_RESIZED)
    t = time.perf_counter()
    box = faces.detect_face(onset, max_side=st.detect_max_side)
    if strict:  # the crop comes from the onset's face box, as in training; the apex must show one too
        if box is None:
            raise _no_face(labels[0], onset)
        if faces.detect_face(apex, max_side=st.detect_max_side) is None:
            raise _no_face(labels[1], apex)
    template = False
    if box is None:
        box = faces.detect_face(apex, max_side=st.detect_max_side)
        if box is not None:
            reasons.append(FALLBACK_FACE_FROM_APEX)
    if box is None:
        h, w = onset.shape[:2]
        side = st.no_face_crop * min(h, w)
        bs = side / st.box_expand
        cx, cy = w / 2.0, h / 2.0 + st.box_shift_up * bs
        box = faces.FaceBox(cx - bs / 2, cy - bs / 2, cx + bs / 2, cy + bs / 2, float("nan"))
        template = True
        reasons.append(FALLBACK_NO_FACE)
    t = _lap(times, "detect", t)
    x0, y0, side = crop_for_box(box, st)
    n = st.size
    on_c = crop_square(onset, x0, y0, side, n)
    ap_c = crop_square(apex, x0, y0, side, n)
    t = _lap(times, "crop", t)
    mag_c = magnify(on_c, ap_c, st.magnify, st.magnify_factor, st.magnify_blur_sigma, st.learned_checkpoint)
    t = _lap(times, "magnify", t)
    flow = tvl1_flow(on_c, mag_c, **st.tvl1())
    flow_image = flow_to_image(flow, st.flow_scale)
    t = _lap(times, "tvl1", t)
    s = n / side
    cbox = box.scaled(s, -x0 * s, -y0 * s)
    if template:
        lm = faces.template_in_box(cbox)
    else:
        target = {"magnified": mag_c, "apex": ap_c, "onset": on_c}[st.landmarks_on]
        lm = faces.predict_landmarks(target, cbox)
    lm = np.clip(lm, 0, n - 1).astype(np.float32)
    _lap(times, "landmarks", t)
    with _COUNT_LOCK:
        COMPUTE_COUNT += 1
    fallback = "; ".join(reasons)
    if fallback:
        log.warning("clip %s: preparation fallback: %s", cid or "(frames in memory)", fallback)
    return {
        "onset": on_c, "apex": ap_c, "magnified": mag_c, "flow": flow.astype(np.float16),
        "flow_image": flow_image, "landmarks": lm,
        "crop_box": np.array([x0, y0, side], np.float64), "face_box": np.array(box.as_tuple(), np.float64),
        "fallback": np.array(fallback),
    }


# array name -> (dtype, shape with S for the crop size); a cache entry must hold exactly these
ENTRY_ARRAYS = {
    "onset": ("uint8", ("S", "S", 3)), "apex": ("uint8", ("S", "S", 3)),
    "magnified": ("uint8", ("S", "S", 3)), "flow": ("float16", ("S", "S", 2)),
    "flow_image": ("uint8", ("S", "S", 3)), "landmarks": ("float32", (68, 2)),
    "crop_box": ("float64", (3,)), "face_box": ("float64", (4,)), "fallback": ("<U", ()),
}


def _entry_problem(d: dict, st: PrepSettings) -> str | None:
    """What is wrong with a cache entry's arrays (dtype, shape, non-finite values), or None."""
    for name, (dtype, shape) in ENTRY_ARRAYS.items():
        arr = d[name]
        want = tuple(st.size if n == "S" else n for n in shape)
        if not str(arr.dtype).startswith(dtype) or arr.shape != want:
            return f"array {name!r} is {arr.dtype} {list(arr.shape)}, expected {dtype} {list(want)}"
    if not np.all(np.isfinite(d["landmarks"])):
        return "array 'landmarks' holds non-finite values"
    return None


def cache_settings(st: PrepSettings) -> dict:
    """The settings that key a clip's cache entry: every field, with ``on_unreadable`` held at
    'error' (what to do with a damaged frame changes no clip that is prepared)."""
    return dict(st.to_json(), on_unreadable="error")


def _extra_key(st: PrepSettings) -> dict:
    from microau.prep.faces import landmark_model_path

    extra = {"landmark_model_bytes": landmark_model_path().stat().st_size}
    if st.magnify == "learned" and st.learned_checkpoint:
        p = Path(st.learned_checkpoint).expanduser()
        extra["checkpoint"] = _cache.file_digest(p) if p.is_file() else str(p)
    return extra


def _to_clip(sample: Sample | None, d: dict, from_cache: bool, key: str) -> PreparedClip:
    return PreparedClip(
        sample=sample, onset=d["onset"], apex=d["apex"], magnified=d["magnified"],
        flow=d["flow"].astype(np.float32), flow_image=d["flow_image"], landmarks=d["landmarks"],
        crop_box=tuple(float(v) for v in d["crop_box"]), face_box=tuple(float(v) for v in d["face_box"]),
        fallback=str(d["fallback"]), from_cache=from_cache, key=key,
    )


def _as_rgb(img: np.ndarray, label: str) -> np.ndarray:
    arr = np.asarray(img)
    if arr.dtype != np.uint8:
        raise ValueError(f"the {label} must be a uint8 image, got dtype {arr.dtype}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    if arr.ndim != 3 or arr.shape[2] != 3 or min(arr.shape[:2]) < 1:
        raise ValueError(f"the {label} must be an RGB image [H, W, 3] (or grey [H, W]), got shape {arr.shape}")
    return np.ascontiguousarray(arr)


def prepare_frames(onset: np.ndarray, apex: np.ndarray, settings: PrepSettings = PrepSettings(),
                   clip_id: str = "", strict: bool = False,
                   labels: tuple[str, str] = ("onset frame", "apex frame")) -> PreparedClip:
    """Prepare a clip from its two frames in memory: uint8 RGB [H, W, 3] (grey [H, W] is expanded).

    The same steps and results as :func:`prepare_clip` on files holding these frames; nothing is
    cached and ``PreparedClip.sample`` is None. ``strict=True`` raises :class:`NoFaceError` if
    either frame shows no face and :class:`FrameSizeError` if their sizes differ, instead of the
    fallbacks. ``labels`` name the two frames in those messages (e.g. with their file names).
    """
    on = _as_rgb(onset, labels[0])
    ap = _as_rgb(apex, labels[1])
    return _to_clip(None, _compute_frames(on, ap, settings, clip_id, strict, labels), False, "")


def prepare_clip(sample: Sample, settings: PrepSettings = PrepSettings(), cache_dir=None,
                 use_cache: bool = True, times: dict | None = None) -> PreparedClip:
    """Prepare one clip, reading / writing its cache entry (``use_cache=False``: compute only).
    ``times`` collects seconds per stage (:data:`STAGES`)."""
    if not use_cache:
        return _to_clip(sample, _compute(sample, settings, times), False, "")
    t = time.perf_counter()
    path, key, d = _lookup(sample, settings, cache_dir, missing="raise")
    _lap(times, "cache", t)
    if d is not None:
        return _to_clip(sample, d, True, key)
    return _compute_and_store(sample, settings, path, key, times)


def _compute_and_store(sample: Sample, settings: PrepSettings, path: Path, key: str, times: dict | None):
    d = _compute(sample, settings, times)
    t = time.perf_counter()
    _cache.save(path, d)
    _lap(times, "cache", t)
    return _to_clip(sample, d, False, key)


def _lookup(sample: Sample, settings: PrepSettings, cache_dir, missing: str = "raise"):
    """(entry path, key, arrays or None) of a clip's cache entry; a damaged entry is reported and
    given as None. A missing frame file raises UnreadableFrameError (``missing='none'``: the
    whole result is None, for the caller to compute the clip and meet the error there)."""
    cdir = Path(cache_dir) if cache_dir is not None else _cache.default_cache_dir()
    for p in (sample.onset_path, sample.apex_path):
        if not Path(p).is_file():
            if missing == "none":
                return None
            raise UnreadableFrameError(f"frame file not found: {p} (clip {sample.id})")
    key = _cache.clip_key(cache_settings(settings), [Path(sample.onset_path), Path(sample.apex_path)],
                          _extra_key(settings))
    path = _cache.cache_path(cdir, sample.dataset, sample.id, key)
    d = _cache.load(path, set(ENTRY_ARRAYS))
    if d is not None and _entry_problem(d, settings) is not None:
        log.warning("preparation cache entry %s is damaged (%s); computing the clip again",
                    path, _entry_problem(d, settings))
        d = None
    return path, key, d


# --------------------------------------------------------------------------- many clips


def _prepare_task(task: tuple) -> tuple:
    """One clip for a worker: ('ok', flow image, landmarks, fallback, from cache, seconds per
    stage) or ('dropped', why). ``task``: (sample, settings, cache folder, and the entry's path
    and key when the caller looked it up and found none)."""
    sample, settings, cache_dir, path, key = task
    times: dict[str, float] = {}
    try:
        if path is None:
            c = prepare_clip(sample, settings, cache_dir, times=times)
        else:
            c = _compute_and_store(sample, settings, path, key, times)
    except UnreadableFrameError as err:
        if settings.on_unreadable == "drop":
            return ("dropped", str(err))
        raise
    return ("ok", c.flow_image, c.landmarks, c.fallback, c.from_cache, times)


def prepare_samples(samples: list[Sample], settings: PrepSettings = PrepSettings(), cache_dir=None,
                    workers: int | None = None, progress: bool = True) -> PreparedSet:
    """Prepare every clip (cached per clip); returns a :class:`PreparedSet` in the order of
    ``samples`` (less dropped clips, if any), with the seconds each stage took.

    Clips already in the cache are read here; the others are computed by ``workers`` forked
    processes (default: one per core, :func:`default_workers`; see :mod:`microau.forkpool`), or
    by threads where processes are not safe (the learned magnifier runs torch)."""
    from tqdm.auto import tqdm

    from microau.forkpool import fork_map, uses_processes

    global COMPUTE_COUNT
    samples = list(samples)
    if settings.magnify == "learned":  # fail before any work, and load the weights once
        from microau.prep.magnify import learned_magnifier

        learned_magnifier(settings.learned_checkpoint)
    t_start = time.perf_counter()
    cdir = str(Path(cache_dir) if cache_dir is not None else _cache.default_cache_dir())
    results: list[tuple | None] = [None] * len(samples)
    bar = tqdm(total=len(samples), desc="prepare", unit="clip", disable=not progress)
    todo, tasks = [], []
    for i, s in enumerate(samples):  # the cache first, here: no worker is started for cached clips
        path, key, d = _lookup(s, settings, cdir, missing="none") or (None, None, None)
        if d is None:
            todo.append(i)
            tasks.append((s, settings, cdir, path, key))
            continue
        results[i] = ("ok", d["flow_image"], d["landmarks"], str(d["fallback"]), True, {})
        bar.update(1)
    t_cache = time.perf_counter() - t_start
    workers = default_workers() if workers is None else max(1, int(workers))
    torch_free = settings.magnify != "learned"
    forked = uses_processes(workers, len(todo), torch_free)
    if forked:
        from microau.prep.faces import _predictor

        _predictor()  # loaded once here; the workers inherit it
    done = fork_map(_prepare_task, tasks, workers, on_result=lambda i, r: bar.update(1), torch_free=torch_free)
    bar.close()
    if forked:  # the workers counted in their own memory
        with _COUNT_LOCK:
            COMPUTE_COUNT += sum(1 for r in done if r[0] == "ok" and not r[4])
    for i, r in zip(todo, done):
        results[i] = r
    n = min(workers, len(todo))
    return _collect(samples, results, settings, t_cache, time.perf_counter() - t_start,
                    f"{n} process{'es' if n > 1 else ''}" if forked else f"{n} thread{'s' if n > 1 else ''}")


_SAID: set = set()  # fallback summaries logged by this process


def _collect(samples, results, settings: PrepSettings, t_cache: float, wall: float, how: str) -> PreparedSet:
    """The PreparedSet of the per-clip results; one log line for the fallbacks, one for the time."""
    kept, flows, lms, cached = [], [], [], []
    fallbacks: dict[str, str] = {}
    dropped: dict[str, str] = {}
    seconds = {stage: 0.0 for stage in STAGES}
    seconds["cache"] = t_cache
    for s, r in zip(samples, results):
        if r[0] == "dropped":
            dropped[s.id] = r[1]
            log.warning("clip %s dropped: %s", s.id, r[1])
            continue
        _, fi, lm, fb, fc, times = r
        kept.append(s)
        flows.append(fi)
        lms.append(lm)
        cached.append(fc)
        for stage, sec in times.items():
            seconds[stage] += sec
        if fb:
            fallbacks[s.id] = fb
    if fallbacks:  # also when read from the cache (not logged per clip again); once per process
        counts = Counter(r for v in fallbacks.values() for r in v.split("; "))
        shown = ", ".join(sorted(fallbacks)[:8]) + (" ..." if len(fallbacks) > 8 else "")
        fact = (len(fallbacks), len(kept), ", ".join(f"{k} x{n}" for k, n in sorted(counts.items())), shown)
        if fact not in _SAID:
            _SAID.add(fact)
            log.warning("%d of %d clips prepared with a fallback: %s (%s)", *fact)
    n_computed = len(kept) - int(sum(cached))
    seconds["wall"] = wall
    if n_computed:
        per = ", ".join(f"{k} {1000 * seconds[k] / n_computed:.0f}" for k in STAGES if k != "cache")
        log.info("%d clips prepared in %.1f s (%d computed by %s, %d from the cache); "
                 "ms per computed clip: %s", len(kept), wall, n_computed, how, len(kept) - n_computed, per)
    n = settings.size
    return PreparedSet(
        samples=kept,
        flow_images=np.stack(flows) if flows else np.zeros((0, n, n, 3), np.uint8),
        landmarks=np.stack(lms).astype(np.float32) if lms else np.zeros((0, 68, 2), np.float32),
        fallbacks=fallbacks, settings=settings, from_cache=np.array(cached, bool), dropped=dropped,
        seconds=seconds,
    )


def default_workers() -> int:
    """Worker processes for the preparation: one per core this process may use."""
    from microau.forkpool import available_cores

    return available_cores()
