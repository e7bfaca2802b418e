"""microau: reference companion to the Micro-AU CLIP paper (Wei et al., 2026)."""
__version__ = "0.1.0"
