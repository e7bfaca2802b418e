"""The paper's training setting (Sec. IV-A) next to each profile's, from the code itself."""
from __future__ import annotations

import pandas as pd

from ..config import PROFILES, make_config
from ..data.registry import prep_settings_for
from ..paper import load_paper_results

OURS = "our reading"  # where the paper is silent and the value is our choice


def _profile_column(profile: str) -> dict[str, str]:
    c = {d: make_config(profile, "full", dataset=d) for d in ("casme2", "samm")}
    cfg = c["casme2"]
    weights = {None: "random init", "openai": "CLIP (OpenAI)"}.get(cfg.pretrained, str(cfg.pretrained))
    magnifier = {"linear": "linear (Eulerian-style)", "learned": "learned (Oh et al. 2018)",
                 "none": "none"}[cfg.magnify]
    if cfg.magnify != "none":
        magnifier += f", ×{prep_settings_for(cfg).magnify_factor:g}"
    return {
        "backbone": cfg.clip_model,
        "weights": weights,
        "magnifier": magnifier,
        "trainable blocks (visual / text)": f"{cfg.visual_trainable_blocks} / {cfg.text_trainable_blocks}",
        "epochs": str(cfg.epochs),
        "learning-rate decay": f"divided by 10 at epoch {cfg.lr_decay_epoch}",
        "batch size": str(cfg.batch_size),
        "optimizer, learning rates": f"SGD, {cfg.lr_clip:g} (CLIP) / {cfg.lr_other:g} (other)",
        "momentum": f"{cfg.momentum:g} ({OURS})",
        "weight decay": f"none ({OURS})",
        "seed": str(cfg.seed),
        "α / β (CASME II; SAMM)": "; ".join(f"{a:g} / {b:g}" for a, b in (c[d].loss_weights for d in c)),
        "subjects": "all" if cfg.n_subjects is None else f"first {cfg.n_subjects}",
    }


def settings_table() -> pd.DataFrame:
    """Rows: what a run is set by; columns: the paper (as stated) and each profile (from
    ``microau.config.PROFILES``). A profile named 'paper' is our closest setting to the paper,
    not the paper's setting: where they differ, the table shows it."""
    st = load_paper_results()["settings"]
    paper = {
        "backbone": st["backbone"], "weights": st["weights"],
        "magnifier": f"{st['magnifier']}, ×{st['magnification_factor']}",
        "trainable blocks (visual / text)": st["trainable_blocks"],
        "epochs": str(st["epochs"]), "learning-rate decay": st["lr_decay"],
        "batch size": str(st["batch_size"]),
        "optimizer, learning rates": f"{st['optimizer']}, {st['lr_clip']:g} (CLIP) / {st['lr_other']:g} (other)",
        "momentum": "not stated" if st["momentum"] is None else str(st["momentum"]),
        "weight decay": "not stated" if st["weight_decay"] is None else str(st["weight_decay"]),
        "seed": str(st["seed"]), "α / β (CASME II; SAMM)": st["alpha_beta"],
        "subjects": "all",
    }
    cols = {f"paper (Sec. {st['section']})": paper}
    for profile in ("paper", "quick", "quick-scratch", "smoke"):
        if profile in PROFILES:
            cols[f"profile {profile}"] = _profile_column(profile)
    return pd.DataFrame(cols)


def settings_markdown() -> str:
    df = settings_table()
    head = "| setting | " + " | ".join(df.columns) + " |"
    lines = [head, "|" + "---|" * (len(df.columns) + 1)]
    for name, row in df.iterrows():
        lines.append(f"| {name} | " + " | ".join(str(v).replace("|", "/") for v in row) + " |")
    return "\n".join(lines) + "\n"
