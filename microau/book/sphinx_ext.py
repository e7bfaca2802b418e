"""Sphinx extension (listed in ``_config.yml``): placeholder pages for the notebooks not executed
yet, written at the start of every book build, so a fresh clone's book builds."""
from __future__ import annotations

from pathlib import Path

from .placeholders import ensure_placeholders


def setup(app):
    """Write placeholders before Sphinx reads the sources.

    It also applies ``microau_numfig`` (default False) to ``numfig`` after every other
    extension: sphinx-jupyterbook-latex forces ``numfig = True`` for every builder, and the book's
    own running figure numbers would be confused with the paper's figure numbers."""

    def _on_config(app, config):
        src = Path(app.srcdir)
        ensure_placeholders(src, root=src.parent)

    def _numfig(app, config):
        config.numfig = bool(config.microau_numfig)

    app.add_config_value("microau_numfig", False, "env")
    app.connect("config-inited", _on_config, priority=100)
    app.connect("config-inited", _numfig, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
