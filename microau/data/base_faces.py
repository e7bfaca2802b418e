"""The two face photos that ship with installed packages (matplotlib's ``grace_hopper.jpg``,
scikit-image's ``astronaut``): the phantom's identities and the template landmark shape start
from them."""
from __future__ import annotations

import functools

import numpy as np


@functools.lru_cache(maxsize=None)
def base_face_images() -> tuple[tuple[str, np.ndarray], ...]:
    """(name, uint8 RGB image) of each base photo, in a fixed order."""
    import matplotlib.cbook as cbook
    import skimage.data
    from PIL import Image

    with cbook.get_sample_data("grace_hopper.jpg") as fh:
        gh = np.asarray(Image.open(fh).convert("RGB"))
    return (("grace_hopper", gh), ("astronaut", np.asarray(skimage.data.astronaut())))
