"""Eq. 1: which patch token a facial landmark falls in, and Table I groups as index tensors."""
from __future__ import annotations

import torch

from ..aus import AU_LANDMARKS, check_aus


def landmark_token_index(
    landmarks: torch.Tensor, image_hw: tuple[int, int], grid_hw: tuple[int, int]
) -> torch.Tensor:
    """Eq. 1: flat patch-token index of each landmark.

    ``landmarks`` are (x, y) pixel coordinates in the flow image, shape [..., 2]. The token row
    is floor(y * h / H) and the column floor(x * w / W), both clipped to the grid, so a landmark
    on or past the border maps to the border token. Returns row * w + col, shape [...].
    """
    H, W = image_hw
    h, w = grid_hw
    x, y = landmarks[..., 0], landmarks[..., 1]
    row = torch.floor(y * h / H).long().clamp(0, h - 1)
    col = torch.floor(x * w / W).long().clamp(0, w - 1)
    return row * w + col


def au_landmark_table(aus: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Table I as a padded index matrix [N, L_max] and a validity mask [N, L_max]."""
    check_aus(aus, need_landmarks=True)
    width = max(len(AU_LANDMARKS[a]) for a in aus)
    index = torch.zeros(len(aus), width, dtype=torch.long)
    mask = torch.zeros(len(aus), width, dtype=torch.bool)
    for n, au in enumerate(aus):
        points = AU_LANDMARKS[au]
        index[n, : len(points)] = torch.tensor(points)
        mask[n, : len(points)] = True
    return index, mask


def au_token_index(landmarks, au: int, image_size: int, grid_hw: tuple[int, int]):
    """Eq. 1 for the Table I landmarks of one AU of one clip: numpy landmarks [68, 2] (x, y)
    flow-image pixels -> flat token index per landmark, numpy int [L_au] (duplicates kept)."""
    import numpy as np

    points = list(AU_LANDMARKS[au])
    pts = torch.as_tensor(np.asarray(landmarks, dtype=np.float32)[points])
    return landmark_token_index(pts, (image_size, image_size), grid_hw).numpy()


def pta_token_map(weights, landmarks, au: int, image_size: int, grid_hw: tuple[int, int]):
    """PTA weights W^n_j (Eq. 2) of one AU of one clip summed per patch token (Eq. 1): numpy [h, w].

    ``weights`` holds one weight per Table I landmark of ``au`` (entries past them, the padding of
    the model's output, are ignored); ``landmarks`` are the clip's 68 (x, y) flow-image pixels.
    Tokens that none of the AU's landmarks fall in are 0."""
    import numpy as np

    tok = au_token_index(landmarks, au, image_size, grid_hw)
    out = np.zeros(grid_hw[0] * grid_hw[1])
    np.add.at(out, tok, np.asarray(weights, dtype=np.float64)[: len(tok)])
    return out.reshape(grid_hw)
