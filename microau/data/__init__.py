from .registry import load_samples  # noqa: F401
from .summary import selected_au_counts, summarize  # noqa: F401
from .phantom import PhantomSettings, default_phantom_root, ensure_phantom, write_phantom  # noqa: F401
