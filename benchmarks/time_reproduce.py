"""Wall time of ``microau reproduce`` as on a fresh machine: empty caches, no finished runs.

    python benchmarks/time_reproduce.py --profile quick
    python benchmarks/time_reproduce.py --profile quick --save book/benchmarks/reproduce_quick_cpu.md

The command runs with ``MICROAU_CACHE`` and the runs directory pointed at new empty folders, so it
pays for everything a first call pays for: writing the phantom, preparing the flow images,
training every LOSO run, executing every notebook and building the book. Only the Python
environment is assumed installed. The executed notebooks and the built book land in this
checkout's ``book/`` as usual. The script prints the command's own phase lines and its table of
stages (data per set, pretraining, LOSO runs, notebooks, book), the total wall time, and the
machine's load before and after (figures taken on a busy machine are slower).
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PHASES = ("set(s) ready in", "pairs, ", "LOSO run(s) trained", "notebooks done", "book built", "total")


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def _stage_table(output: str) -> list[str]:
    """The table of stages ``microau reproduce`` prints at its end (title line to 'total')."""
    from microau.stages import TABLE_TITLE

    lines = output.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.strip() == TABLE_TITLE), None)
    if start is None:
        return []
    end = next((i for i in range(start, len(lines)) if lines[i].split()[:1] == ["total"]), len(lines) - 1)
    return lines[start:end + 1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default="quick")
    p.add_argument("--jobs", type=int, default=None)
    p.add_argument("--save", default=None, help="also write the figures as a markdown file (for the book)")
    p.add_argument("--keep", default=None, help="keep the caches and runs in this folder instead of a temporary one")
    args = p.parse_args()

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="microau-fresh-"))
    work.mkdir(parents=True, exist_ok=True)
    if any(work.iterdir()):
        sys.exit(f"{work} is not empty: the measurement needs empty caches")
    cmd = [sys.executable, "-m", "microau.cli", "reproduce", "--profile", args.profile,
           "--runs", str(work / "runs"), "--no-progress"]
    if args.jobs:
        cmd += ["--jobs", str(args.jobs)]
    env = {**os.environ, "MICROAU_CACHE": str(work / "cache"), "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT)] + [x for x in os.environ.get("PYTHONPATH", "").split(os.pathsep) if x])}
    log_path = work / "reproduce.log"
    load_before = _load()
    print(f"running: {' '.join(cmd[1:])}\n  (MICROAU_CACHE={work / 'cache'}; log: {log_path})", flush=True)
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    seconds = time.perf_counter() - t0
    output = log_path.read_text()
    if proc.returncode:
        sys.exit(f"microau reproduce failed (exit {proc.returncode}); last lines of {log_path}:\n{output[-3000:]}")

    phase_lines = [ln.strip() for ln in output.splitlines() if any(k in ln for k in PHASES)]
    stage_table = _stage_table(output)
    nb_lines = [ln.rstrip() for ln in output.splitlines() if "-> book/reproduction/" in ln]
    cpu = platform.processor() or platform.machine()
    lines = [f"microau reproduce --profile {args.profile}, fresh caches, {os.cpu_count()} CPU core(s) ({cpu})",
             f"  wall time          : {seconds:.0f} s ({seconds / 60:.1f} min)",
             f"  load average before: {load_before} | after: {_load()}",
             "  phases, as the command printed them:"]
    lines += [f"    {ln}" for ln in phase_lines]
    lines += ["  notebooks (executed after training, reading the runs back):"] + [f"  {ln}" for ln in nb_lines]
    lines += [f"  {ln}" for ln in stage_table] or ["  (the command printed no table of stages)"]
    text = "\n".join(lines)
    print(text)
    if args.save:
        flags = f" --jobs {args.jobs}" if args.jobs else ""
        from microau.train.store import write_text_atomic

        write_text_atomic(
            Path(args.save),
            f"Measured {time.strftime('%Y-%m-%d')} with: "
            f"`python benchmarks/time_reproduce.py --profile {args.profile}{flags}`\n\n```text\n{text}\n```\n")


if __name__ == "__main__":
    main()
