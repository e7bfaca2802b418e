"""Preparation (Sec. III-A, IV-A): face crop, x3 magnification, TV-L1 flow image, 68 landmarks,
cached per clip. See :mod:`microau.prep.pipeline`."""
from .pipeline import (  # noqa: F401
    PreparedClip,
    PreparedSet,
    PrepSettings,
    UnreadableFrameError,
    prepare_clip,
    prepare_samples,
)
