"""``microau data ...``: look at a dataset before preparing it.

    microau data summary --dataset casme2 --root /data/CASME2 [--layout auto] [--show-notes]
    microau data summary --dataset phantom-samm          (the phantom: no --root needed)
"""
from __future__ import annotations

import argparse

from .registry import DATASETS, is_phantom, load_samples, root_for_name
from .summary import PAPER_MIN_COUNT, format_summary, summarize


def _summary(args: argparse.Namespace) -> int:
    if args.root is None and not is_phantom(args.dataset):
        raise FileNotFoundError(f"--root is required for {args.dataset}: the folder holding its "
                                "coding sheet and frames")
    root = root_for_name(args.dataset, args.root, progress=not args.no_progress)
    samples = load_samples(args.dataset, root, layout=args.layout)
    summary = summarize(samples, min_count=args.min_count)
    print(format_summary(summary, show_notes=args.show_notes))
    return 0


def register(subparsers) -> None:
    data = subparsers.add_parser(
        "data", help="inspect a dataset (CASME II, SAMM, the other sets, or a phantom in their layouts)",
        description="Inspect a dataset's coding sheet and frame tree.",
    )
    data_sub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    summary = data_sub.add_parser(
        "summary", help="clips, subjects, AU and emotion counts, parser notes",
        description="Load a dataset and print clips, subjects, AU counts (with the paper's "
                    "'more than 14 samples' rule), emotion counts, the apex frames not taken as "
                    "coded and the reader's notes.",
    )
    summary.add_argument("--dataset", required=True, choices=DATASETS)
    summary.add_argument("--root", default=None,
                         help="dataset root folder (holds the sheet); optional for the phantom")
    summary.add_argument("--no-progress", action="store_true",
                         help="no progress bar when the phantom is written on first use")
    summary.add_argument(
        "--layout", default="auto",
        help="frame layout: CASME II auto|raw|cropped, SAMM auto|nested|flat, the other sets as "
             "their readers name them (see the book's 'Beyond the paper' chapter; default: auto)",
    )
    summary.add_argument("--min-count", type=int, default=PAPER_MIN_COUNT,
                         help="an AU passes the rule with at least this many clips "
                              f"(default {PAPER_MIN_COUNT}: the paper's 'more than 14')")
    summary.add_argument("--show-notes", action="store_true",
                         help="list every note (apex fallbacks, ambiguous AU cells)")
    summary.set_defaults(func=_summary)
    data.set_defaults(func=lambda args: (data.print_help(), 0)[1])
