from .loading import load_samples, selected_au_counts, summarize  # noqa: F401
