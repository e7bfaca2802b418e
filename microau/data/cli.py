"""``microau data ...``: look at a dataset before preparing it.

    microau data summary --dataset casme2 --root /data/CASME2 [--layout auto] [--show-notes]
"""
from __future__ import annotations

import argparse

from .registry import DATASETS, load_samples
from .summary import PAPER_MIN_COUNT, format_summary, summarize


def _summary(args: argparse.Namespace) -> int:
    samples = load_samples(args.dataset, args.root, layout=args.layout)
    summary = summarize(samples, min_count=args.min_count)
    print(format_summary(summary, show_notes=args.show_notes))
    return 0


def register(subparsers) -> None:
    data = subparsers.add_parser(
        "data", help="inspect a dataset (CASME II, SAMM or the phantom in their layouts)",
        description="Inspect a dataset's coding sheet and frame tree.",
    )
    data_sub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    summary = data_sub.add_parser(
        "summary", help="clips, subjects, AU and emotion counts, parser notes",
        description="Load a dataset and print clips, subjects, AU counts (with the paper's "
                    "'more than 14 samples' rule), emotion counts and the AU-parser notes.",
    )
    summary.add_argument("--dataset", required=True, choices=DATASETS)
    summary.add_argument("--root", required=True, help="dataset root folder (holds the sheet)")
    summary.add_argument(
        "--layout", default="auto",
        help="frame layout: CASME II auto|raw|cropped, SAMM auto|nested|flat (default: auto)",
    )
    summary.add_argument("--min-count", type=int, default=PAPER_MIN_COUNT,
                         help="an AU passes the rule with at least this many clips "
                              f"(default {PAPER_MIN_COUNT}: the paper's 'more than 14')")
    summary.add_argument("--show-notes", action="store_true",
                         help="list every note (apex fallbacks, ambiguous AU cells)")
    summary.set_defaults(func=_summary)
    data.set_defaults(func=lambda args: (data.print_help(), 0)[1])
