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
