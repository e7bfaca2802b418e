"""The ``microau`` command. Each sub-command lives next to the code it drives and registers
itself through a ``register(subparsers)`` function, imported here."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

# module -> registers one or more sub-commands
_COMMAND_MODULES = (
    "microau.demo",
    "microau.data.cli",
    "microau.prep.cli",
    "microau.train.cli",
    "microau.reproduce",
    "microau.predict_cli",
    "microau.doctor",
    "microau.pretrain.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="microau",
        description="Micro-AU CLIP companion: data, preparation, LOSO training, reproduction.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:  # a sub-command whose module is not written yet
            if err.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # our own messages at INFO; third-party libraries (open_clip logs through the root logger)
    # only from WARNING on
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("microau").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, ValueError) as err:
        print(f"microau {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
