"""open_clip set up for microau: the package's own model configs (e.g. ``microau-tiny``)
registered once, and open_clip's root-logger warnings kept quiet while a model is built."""
from __future__ import annotations

import logging
from pathlib import Path

CONFIG_DIR = Path(__file__).with_name("model_configs")
_registered = False


def register_configs() -> None:
    """Add ``microau/model/model_configs/*.json`` to open_clip's model configs (once)."""
    global _registered
    if not _registered:
        import open_clip

        open_clip.add_model_config(CONFIG_DIR)
        _registered = True


class quiet_root_logger:
    """open_clip warns through the root logger on every random-init model; once is ours to say."""

    def __enter__(self):
        self.level = logging.getLogger().level
        logging.getLogger().setLevel(logging.ERROR)

    def __exit__(self, *exc):
        logging.getLogger().setLevel(self.level)


def model_image_size(clip_model: str) -> int:
    """The input side in pixels of ``clip_model``'s visual tower (224 for ViT-B/32), read from its
    open_clip config; the data are resized to it when loaded (``microau.train.data``)."""
    import open_clip

    register_configs()
    mc = open_clip.get_model_config(clip_model)
    if mc is None:
        raise ValueError(f"no open_clip config named {clip_model!r}")
    size = mc["vision_cfg"]["image_size"]
    return int(size[0] if isinstance(size, (list, tuple)) else size)
