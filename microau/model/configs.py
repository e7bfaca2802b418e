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
