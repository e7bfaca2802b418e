"""microau: reference companion to the Micro-AU CLIP paper (Wei et al., 2026)."""
import warnings as _warnings

__version__ = "0.1.0"

# In a Jupyter kernel without ipywidgets, tqdm.auto (used here and by open_clip's dependencies)
# warns once that it falls back to a text bar; in the book that line would show on every
# executed page. The text bar is what we want there, so only this message is silenced.
_warnings.filterwarnings("ignore", message="IProgress not found", module="tqdm")
