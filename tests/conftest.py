import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_clip_factory():
    """Fresh tiny open_clip models (random init, seeded) without re-reading configs each time."""
    import torch
    from microau.model.backbone import load_clip

    def make(seed: int = 0):
        torch.manual_seed(seed)
        return load_clip("microau-tiny", None)

    return make
