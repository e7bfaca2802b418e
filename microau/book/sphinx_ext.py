"""Sphinx extension (listed in ``_config.yml``): placeholder pages for the notebooks not executed
yet, written at the start of every book build, so a fresh clone's book builds; executed notebooks
tagged for reading as they are read (``microau.book.reading``: code behind a toggle, parameter
cells and stream output removed); and MathJax served from the book itself
(``microau.book.mathjax``)."""
from __future__ import annotations

from pathlib import Path

from .mathjax import ENTRY, copy_into
from .placeholders import OUTPUT_DIR, ensure_placeholders, self_ignore
from .reading import source_for_reading

GENERATED_DIR = "_generated"  # under book/: pages' includes written from the code at build time


def write_generated(book_dir: Path) -> list[Path]:
    """Includes computed from the code (git-ignored): the settings table of the profiles."""
    from ..report.settings import settings_markdown

    out = Path(book_dir) / GENERATED_DIR
    self_ignore(out)
    target = out / "settings_table.md"
    text = settings_markdown()
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        tmp = target.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
    return [target]


def setup(app):
    """Write placeholders before Sphinx reads the sources.

    It also applies ``microau_numfig`` (default False) to ``numfig`` after every other
    extension: sphinx-jupyterbook-latex forces ``numfig = True`` for every builder, and the book's
    own running figure numbers would be confused with the paper's figure numbers."""

    def _on_config(app, config):
        src = Path(app.srcdir)
        ensure_placeholders(src, root=src.parent)
        write_generated(src)

    def _numfig(app, config):
        config.numfig = bool(config.microau_numfig)

    def _local_mathjax(app, config):
        config.mathjax_path = f"mathjax/{ENTRY}"  # relative to _static: no CDN

    def _for_reading(app, docname, source):
        if docname.startswith(f"{OUTPUT_DIR}/") and str(app.env.doc2path(docname)).endswith(".ipynb"):
            source[0] = source_for_reading(source[0])

    def _copy_mathjax(app, exception):
        if exception is None and app.builder.format == "html":
            copy_into(Path(app.outdir) / "_static")

    app.add_config_value("microau_numfig", False, "env")
    app.connect("config-inited", _on_config, priority=100)
    app.connect("config-inited", _numfig, priority=900)
    app.connect("config-inited", _local_mathjax, priority=900)
    app.connect("source-read", _for_reading)
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
