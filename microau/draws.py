"""Draw keys: one integer naming a run of a noise grid (backbone draw x fine-tuning seed), and the
spread of a value over runs keyed by them (``microau.noise`` computes the spreads)."""
from __future__ import annotations

from .noise import SeedSpread, spread_of_grid, spread_of_values

# A run of a noise grid is named by one integer, its draw key: backbone draw b and fine-tuning
# seed s give b * DRAW_STRIDE + s. Backbone 0 keeps the plain seed numbers, so the keys of runs
# trained before backbone draws existed do not change.
DRAW_STRIDE = 100


def draw_key(backbone_seed: int, seed: int) -> int:
    """The key of fine-tuning seed ``seed`` on backbone draw ``backbone_seed``."""
    if not 0 <= int(seed) < DRAW_STRIDE or int(backbone_seed) < 0:
        raise ValueError(f"seeds of a noise grid lie in [0, {DRAW_STRIDE}) and backbone draws are >= 0; "
                         f"got seed {seed}, backbone {backbone_seed}")
    return int(backbone_seed) * DRAW_STRIDE + int(seed)


def split_draw(key: int) -> tuple[int, int]:
    """(backbone draw, seed) of a draw key (:func:`draw_key`)."""
    return divmod(int(key), DRAW_STRIDE)


def spread_of_draws(values: dict[int, float]) -> SeedSpread:
    """The spread of a value over runs keyed by draw key: over the backbone x seed grid when the
    keys span two or more backbone draws (:func:`spread_of_grid`), over seeds otherwise."""
    if not values:
        raise ValueError("a seed spread needs at least one run")
    grid = {split_draw(k): float(v) for k, v in values.items()}
    if len({b for b, _ in grid}) >= 2:
        return spread_of_grid(grid)
    keys = sorted(values)
    return spread_of_values([values[k] for k in keys], keys)
