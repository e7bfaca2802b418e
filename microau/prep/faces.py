"""Face detection (dlib's HOG frontal face detector) and 68-point landmarks (dlib's shape
predictor, the model file shipped by the PyPI package ``face-recognition-models``).

Landmark indices are dlib's 0-based iBUG-300W indices, as in Table I: jaw 0-16, brows 17-26,
nose 27-35, eyes 36-47, mouth 48-67. Indices follow image position (36-41 is always the eye on
the image's left), also on mirrored faces.

The landmark model's licence (iBUG 300-W) excludes commercial use.

dlib objects cannot be pickled: every process builds its own through the getters below (the
detector once per thread, the 100 MB landmark model once per process: it is read-only in use).
"""
from __future__ import annotations

import functools
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LANDMARK_MODEL = "shape_predictor_68_face_landmarks.dat"


class LandmarkModelMissing(FileNotFoundError):
    """The 68-landmark model file could not be found."""


def landmark_model_path() -> Path:
    """Path of ``shape_predictor_68_face_landmarks.dat`` inside ``face_recognition_models``.

    The package is located with ``importlib.util.find_spec`` and never imported: its
    ``__init__`` needs ``pkg_resources``, which recent setuptools no longer ships.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise LandmarkModelMissing(
            "The 68-landmark model is missing: install the PyPI package "
            "'face-recognition-models' (it ships models/" + LANDMARK_MODEL + "; "
            "do not install 'face_recognition', which compiles dlib)."
        )
    for loc in spec.submodule_search_locations:
        path = Path(loc) / "models" / LANDMARK_MODEL
        if path.is_file():
            return path
    raise LandmarkModelMissing(
        f"'face_recognition_models' is installed but has no models/{LANDMARK_MODEL} "
        f"(looked in {list(spec.submodule_search_locations)})."
    )


_LOCK = threading.Lock()
_MODELS: dict[str, object] = {}


_THREAD = threading.local()


def _detector():
    """One detector per thread: dlib's object_detector keeps the image pyramid of the last call
    in the object (its scanner), so one instance must not serve two threads at once."""
    det = getattr(_THREAD, "detector", None)
    if det is None:
        import dlib

        det = _THREAD.detector = dlib.get_frontal_face_detector()
    return det


def _predictor():
    with _LOCK:  # the 100 MB model is loaded once per process, also with several threads
        if "predictor" not in _MODELS:
            import dlib

            _MODELS["predictor"] = dlib.shape_predictor(str(landmark_model_path()))
        return _MODELS["predictor"]


@dataclass(frozen=True)
class FaceBox:
    """A face rectangle in image pixels (dlib's box: roughly brows to chin, ear to ear)."""

    left: float
    top: float
    right: float
    bottom: float
    score: float = float("nan")

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def center(self) -> tuple[float, float]:
        return ((self.left + self.right) / 2.0, (self.top + self.bottom) / 2.0)

    def scaled(self, s: float, dx: float = 0.0, dy: float = 0.0) -> "FaceBox":
        """Coordinates multiplied by ``s`` then shifted by (dx, dy)."""
        return FaceBox(
            self.left * s + dx, self.top * s + dy, self.right * s + dx, self.bottom * s + dy, self.score
        )

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.left, self.top, self.right, self.bottom)


def to_uint8_rgb(img: np.ndarray) -> np.ndarray:
    """A contiguous uint8 image (H, W) or (H, W, 3) that dlib accepts."""
    arr = np.asarray(img)
    if arr.dtype != np.uint8:
        arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    return np.ascontiguousarray(arr)


def detect_faces(img: np.ndarray, max_side: int = 800, upsample: int = 0) -> list[FaceBox]:
    """All faces dlib finds, largest first. Images larger than ``max_side`` are searched at a
    reduced size (the boxes are returned in the original pixels); ``upsample`` is dlib's
    pyramid up-sampling count (1 finds smaller faces, at a higher cost)."""
    import cv2

    arr = to_uint8_rgb(img)
    h, w = arr.shape[:2]
    s = 1.0
    if max(h, w) > max_side:
        s = max_side / float(max(h, w))
        arr = cv2.resize(arr, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    rects, scores, _ = _detector().run(arr, upsample, 0.0)
    boxes = [
        FaceBox(r.left() / s, r.top() / s, (r.right() + 1) / s, (r.bottom() + 1) / s, float(sc))
        for r, sc in zip(rects, scores)
    ]
    boxes.sort(key=lambda b: -b.width * b.height)
    return boxes


def detect_face(img: np.ndarray, max_side: int = 800) -> FaceBox | None:
    """The largest face, first at dlib's native scale, then with one pyramid up-sampling."""
    for up in (0, 1):
        boxes = detect_faces(img, max_side=max_side, upsample=up)
        if boxes:
            return boxes[0]
    return None


def predict_landmarks(img: np.ndarray, box: FaceBox) -> np.ndarray:
    """68 landmarks (x, y) in image pixels, float32 [68, 2], for the face in ``box``."""
    import dlib

    arr = to_uint8_rgb(img)
    rect = dlib.rectangle(
        int(round(box.left)), int(round(box.top)), int(round(box.right)) - 1, int(round(box.bottom)) - 1
    )
    shape = _predictor()(arr, rect)
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)


@functools.lru_cache(maxsize=None)
def template_landmarks() -> np.ndarray:
    """A mean face shape in unit-box coordinates, float64 [68, 2]: (0, 0) is the top-left and
    (1, 1) the bottom-right corner of a dlib face box.

    Built from the two face photos that ship with matplotlib and scikit-image (the same faces
    the phantom starts from), each also mirrored, so the template is left-right symmetric.
    Used when no face can be found (see ``microau.prep.pipeline``).
    """
    shapes = []
    for img in _template_faces():
        box = detect_face(img)
        if box is None:  # pragma: no cover - both photos are clear frontal faces
            continue
        lm = predict_landmarks(img, box).astype(np.float64)
        s = (lm - [box.left, box.top]) / [box.width, box.height]
        mirrored = np.stack([1.0 - s[MIRROR_68, 0], s[MIRROR_68, 1]], axis=1)
        shapes += [s, mirrored]
    if not shapes:  # pragma: no cover
        raise RuntimeError("could not build the template landmark shape")
    return np.mean(shapes, axis=0)


def template_in_box(box: FaceBox) -> np.ndarray:
    """The template shape placed in ``box``: float32 [68, 2]."""
    t = template_landmarks()
    return (t * [box.width, box.height] + [box.left, box.top]).astype(np.float32)


def _template_faces() -> list[np.ndarray]:
    from microau.data.base_faces import base_face_images

    return [img for _, img in base_face_images()]


def _mirror_68() -> np.ndarray:
    """Index permutation mapping the landmarks of a mirrored face back to dlib's order."""
    m = list(range(68))
    pairs = [(i, 16 - i) for i in range(8)]  # jaw
    pairs += [(17 + i, 26 - i) for i in range(5)]  # brows
    pairs += [(31, 35), (32, 34)]  # nose wings
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]  # eyes
    pairs += [(48, 54), (49, 53), (50, 52), (59, 55), (58, 56)]  # outer lip
    pairs += [(60, 64), (61, 63), (67, 65)]  # inner lip
    for a, b in pairs:
        m[a], m[b] = b, a
    return np.array(m)


MIRROR_68 = _mirror_68()
