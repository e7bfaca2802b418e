"""``python -m microau.pretrain``: the same as ``microau pretrain``."""
import argparse
import logging
import sys

from .cli import register

parser = argparse.ArgumentParser(prog="python -m microau.pretrain")
register(parser.add_subparsers(dest="command", required=True))
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
logging.getLogger("microau").setLevel(logging.INFO)
args = parser.parse_args(["pretrain", *sys.argv[1:]])
sys.exit(args.func(args))
