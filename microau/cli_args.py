"""The command-line options every command that trains or predicts shares, defined once."""
from __future__ import annotations

import argparse
from pathlib import Path

from .config import PROFILES, VARIANTS, Config
from .data import registry


def dataset_name(value: str) -> str:
    """argparse type of --dataset where composites ('casme2+samm') are allowed."""
    try:
        return registry.check(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_run_args(p: argparse.ArgumentParser, *, many_datasets: bool = False, variant: bool = True,
                 composite: bool = False) -> None:
    """--profile --variant --dataset(s) --root --device --epochs --subjects --seed --pretrained
    --magnify --magnify-checkpoint --precision --on-damaged-frame --runs --no-progress."""
    p.add_argument("--profile", default="quick", choices=sorted(PROFILES),
                   help="scale of the runs: smoke | quick (CPU, default) | paper (GPU)")
    if variant:
        p.add_argument("--variant", default="full", choices=sorted(VARIANTS), metavar="VARIANT",
                       help="'full' or a table row, e.g. table2/lsi_only (microau.config.VARIANTS)")
    if many_datasets:
        p.add_argument("--datasets", nargs="+", default=list(registry.DEFAULT_DATASETS),
                       choices=registry.DATASETS, metavar="DATASET",
                       help="phantom-casme2 phantom-samm (default), or casme2 / samm with --root")
    elif composite:
        p.add_argument("--dataset", default=registry.DEFAULT_DATASETS[0], type=dataset_name, metavar="DATASET",
                       help=f"{', '.join(registry.DATASETS)}, or several joined by '+' (casme2+samm)")
    else:
        p.add_argument("--dataset", default=registry.DEFAULT_DATASETS[0], choices=registry.DATASETS)
    p.add_argument("--root", action="append", metavar="[DATASET=]DIR",
                   help="folder of a licensed copy (holds its coding sheet), e.g. --root "
                        "casme2=/data/CASME2 (repeatable); a plain DIR for a single data set")
    p.add_argument("--device", default=None, help="cpu (default) or cuda")
    p.add_argument("--epochs", type=int, default=None, help="override the profile's epoch count")
    p.add_argument("--subjects", type=int, default=None, help="keep only the first K subjects")
    p.add_argument("--seed", type=int, default=None, help="override the seed (default 1, as the paper)")
    p.add_argument("--pretrained", default=None, metavar="openai|PATH|none",
                   help="CLIP weights: an open_clip tag (openai), a local checkpoint file, or none "
                        "(random init); default: the profile's")
    p.add_argument("--magnify", default=None, choices=("linear", "learned", "none"),
                   help="motion magnification before the flow (default: the profile's, linear)")
    p.add_argument("--magnify-checkpoint", default=None, metavar="PATH",
                   help="learned-magnifier checkpoint for --magnify learned (see the book's "
                        "'Your own data' chapter for the formats read)")
    p.add_argument("--precision", default=None, choices=("fp32", "bf16"),
                   help="arithmetic of the trainable part (default fp32, the reference)")
    p.add_argument("--on-damaged-frame", default=None, choices=("error", "drop"),
                   help="a clip whose onset or apex frame is damaged (pixels lost): stop with an "
                        "error naming the file (default), or leave the clip out, counted and listed")
    p.add_argument("--runs", default=None, metavar="DIR",
                   help="runs directory (default: $MICROAU_RUNS, else <repository>/runs)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_executor_args(p: argparse.ArgumentParser) -> None:
    """--executor --ray-address --jobs: how missing runs are trained."""
    p.add_argument("--executor", default="local", choices=("local", "ray"),
                   help="local: a pool of worker processes on this machine (default); ray: a Ray "
                        "cluster (a local one unless --ray-address)")
    p.add_argument("--ray-address", default=None, metavar="auto|HOST:PORT",
                   help="join this Ray cluster (started with `ray start --head`) instead of a local one")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="runs trained at once by the local executor (default: one per core up to "
                        "4 on a CPU, 1 on a GPU)")


def parse_roots(items: list[str] | None, datasets: list[str] | tuple[str, ...] = ()) -> dict[str, str]:
    """['casme2=/data/CASME2', ...] -> {'casme2': '/data/CASME2'}; a plain DIR is the root of the
    only licensed data set in ``datasets``."""
    roots: dict[str, str] = {}
    licensed = [d for d in datasets if not registry.is_phantom(d)]
    for item in items or []:
        if "=" in item:
            key, value = item.split("=", 1)
            key = key.strip()
            registry.check(key)
        elif len(licensed) == 1:
            key, value = licensed[0], item
        else:
            raise ValueError(f"--root takes DATASET=DIR (e.g. casme2=/data/CASME2), got {item!r}")
        roots[key] = str(Path(value).expanduser().resolve())
    for d in licensed:
        if registry.root_from_map(d, roots) is None:
            raise ValueError(f"dataset {d!r} is licensed data: pass --root {d}=DIR, the folder of "
                             "your copy that holds its coding sheet and frames")
    return roots


def config_overrides(args: argparse.Namespace) -> dict:
    """Config fields set on the command line (unset options keep the profile's values)."""
    out = dict(epochs=args.epochs, n_subjects=args.subjects, seed=args.seed, magnify=args.magnify,
               magnify_checkpoint=args.magnify_checkpoint, precision=args.precision,
               on_damaged_frame=getattr(args, "on_damaged_frame", None))
    if args.pretrained is not None:
        out["pretrained"] = args.pretrained  # 'none': random init (microau.runs.make_run_config)
    if args.device:
        out["device"] = args.device
    if args.epochs is not None and args.epochs < 1:
        raise ValueError(f"--epochs {args.epochs}: a run needs at least one epoch")
    if args.magnify == "learned" and not args.magnify_checkpoint:
        raise ValueError("--magnify learned needs --magnify-checkpoint PATH (a learned-magnifier "
                         "checkpoint; the 'Your own data' chapter lists the formats read)")
    return {k: v for k, v in out.items() if v is not None}


def configs_from_args(args: argparse.Namespace, variants, datasets) -> list[Config]:
    """One config per (dataset, variant), with the command line's overrides."""
    from .runs import make_run_config

    roots = parse_roots(args.root, datasets)
    over = config_overrides(args)
    device = over.pop("device", "cpu")
    return [make_run_config(args.profile, v, d, roots, device, **over)
            for d in datasets for v in variants]
