"""What a page opens with: the paper's claim it checks, the data our numbers come from, and the
verdict, counted (``report.tally``). Computed when the page runs; nothing typed."""
from __future__ import annotations

from ..data.registry import is_phantom
from .claims import claim_of
from .labels import data_label
from .tally import combined, page_tally


def backbone_words(cfg) -> str:
    """'microau-tiny, pretrained on the phantom corpus', 'ViT-B-32, openai weights', ..."""
    from ..pretrain.checkpoint import is_phantom_checkpoint

    if is_phantom_checkpoint(cfg.pretrained):
        how = "pretrained on the phantom corpus"
    elif not cfg.pretrained:
        how = "random init"
    else:
        how = f"{cfg.pretrained} weights"
    return f"{cfg.clip_model} ({how})"


def data_words(page) -> str:
    """Our data and setting in one sentence: each data set (simulated or not, clips, subjects),
    the profile, the backbone and the epochs, from the runs (or the config, for a page without)."""
    from ..runs import make_run_config

    parts, cfg = [], None
    runs = page.runs
    for dataset in page.datasets:
        first = None
        if runs is not None:
            first = next((r for k, r in runs.items() if k[1] == dataset), None)
        kind = "simulated" if is_phantom(dataset) else "licensed copy"
        if first is not None:
            meta = first.meta
            cfg = cfg or first.config
            parts.append(f"*{data_label(dataset)}* ({kind}; {meta.get('n_clips')} clips, "
                         f"{meta.get('n_subjects')} subjects)")
        else:
            parts.append(f"*{data_label(dataset)}* ({kind})")
    if cfg is None:
        cfg = make_run_config(page.profile, "full", page.datasets[0], page.data_root, page.device,
                              **page.overrides)
    data = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    setting = (f"profile *{cfg.profile}*: backbone {backbone_words(cfg)}, {cfg.epochs} epochs, "
               f"{cfg.device}")
    return f"{data}; {setting}."


def opening_markdown(page) -> str:
    c = claim_of(page.name)
    lines = []
    if c.shows:
        lines.append(f"- **The paper ({c.shows})**: {c.claim}")
    elif c.claim:
        lines.append(f"- **This page**: {c.claim}")
    simulated = (" Simulated data: only differences between rows compare with the paper's, not the "
                 "numbers themselves." if any(is_phantom(d) for d in page.datasets) else "")
    lines.append(f"- **Our data**: {data_words(page)}{simulated}")
    runs = page.extra_runs.get("cross") if page.manifest.cross_modes else page.runs  # cross-set runs: their own
    verdict = page_tally(page.name, runs, page.verdicts() if page.runs is not None else None)
    if page.manifest.includes:  # a chapter over other pages (Findings): their verdicts, added up
        verdict = combined({n: page_tally(n, page.runs_of(n), page.verdicts(n)) for n in page.manifest.includes})
    words = verdict.words()
    if words:
        counted = (" (the paper's comparisons of rows; *holds* and *reversed* only outside both the "
                   "paired subject-bootstrap interval and the seed band)" if verdict.counts else "")
        lines.append(f"- **Verdict**: {words}{counted}.")
    return "\n".join(lines)
