"""``microau reproduce``: the whole pipeline, clips -> prepared arrays -> runs -> pages -> book.

    microau reproduce --profile quick [--datasets phantom-casme2 phantom-samm]
                      [--root casme2=DIR --root samm=DIR] [--device cuda] [--jobs N]
                      [--executor local|ray] [--only table2_ablation,fig7_tsne] [--no-build]

First every LOSO run the selected pages show (``microau.book.manifest``) is trained through
``microau.runs.ensure_runs``; then each notebook is executed with papermill into
``book/reproduction/<name>.ipynb``, one per core at a time (the notebooks only read runs back);
then ``jupyter-book build book/`` runs with Sphinx warnings treated as errors. It ends with a
table of its stages (data per set, pretraining, runs, notebooks, book) and their times.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import cli_args
from .book.manifest import NOTEBOOKS, notebook_variants, page, select
from .book.placeholders import OUTPUT_DIR, is_placeholder, self_ignore
from .forkpool import available_cores
from .runs import control_run_configs, ensure_runs, repo_root, runs_dir, seed_run_configs
from .stages import StageClock

KERNEL = "python3"


def _ipc_kernel_manager():
    """A kernel manager that talks to its kernel over local IPC sockets instead of TCP: nothing
    is exposed on a port, and ipykernel has no reason to print its plain-text-TCP warning into
    every execution."""
    import uuid

    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.paths import jupyter_runtime_dir

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.transport = "ipc"
            # socket files of its own: the default name ('kernel-ipc-<n>' in the working folder)
            # is shared by kernels started side by side, whose messages would then cross
            runtime = Path(jupyter_runtime_dir())
            runtime.mkdir(parents=True, exist_ok=True)
            self.ip = str(runtime / f"microau-{uuid.uuid4().hex[:12]}-ipc")

    return IPCKernelManager


def notebook_path(name: str, root: Path | None = None) -> Path:
    return (root or repo_root()) / "notebooks" / f"{name}.ipynb"


def kernel_env(root: Path) -> dict[str, str]:
    """Environment for the kernels: this checkout first on the path (so the notebooks use the
    package they ship with), non-interactive matplotlib, offline Hugging Face hub."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(root)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    # Jupyter's inline backend, whatever the caller's MPLBACKEND says: with a plain backend such
    # as Agg, figures would be drawn but never displayed or glued into the page
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    return env


def execute_notebooks(names, parameters: dict, book_dir: Path, root: Path | None = None,
                      progress: bool = True, jobs: int | None = None) -> dict[str, float]:
    """Execute each notebook with papermill into ``book_dir/reproduction``; returns seconds per
    notebook, in the order of ``names``.

    Up to ``jobs`` notebooks run at a time, each in its own kernel (default: one per core; one
    when the notebooks may train missing runs, so that no two kernels train the same run). Each
    notebook's output is what it would be alone: the notebooks only read runs back. Every
    notebook runs; a failure is raised afterwards naming each failed notebook and its partly
    executed copy."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from tqdm.auto import tqdm

    names = list(names)
    root = root or repo_root()
    out = Path(book_dir) / OUTPUT_DIR
    self_ignore(out)
    if jobs is None:
        jobs = 1 if parameters.get("train_missing", True) else available_cores()
    jobs = max(1, min(int(jobs), len(names) or 1))
    env = kernel_env(root)
    keys = ("PYTHONPATH", "HF_HUB_OFFLINE", "PYDEVD_DISABLE_FILE_VALIDATION", "MPLBACKEND")
    saved = {k: os.environ.get(k) for k in keys}
    timings: dict[str, float] = {}
    failed: dict[str, str] = {}
    bar = tqdm(total=len(names), desc=f"notebooks ({jobs} at a time)", unit="nb", disable=not progress,
               dynamic_ncols=True)
    try:
        os.environ.update({k: env[k] for k in keys})  # the kernels inherit these
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(_execute_one, name, parameters, out, root): name for name in names}
            for fut in as_completed(futures):
                name = futures[fut]
                try:
                    timings[name] = fut.result()
                except Exception as err:  # papermill.PapermillExecutionError and kernel failures
                    failed[name] = str(err)
                bar.update(1)
                bar.set_postfix_str(name)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        bar.close()
    if failed:
        detail = "\n".join(f"notebook {name} failed; the partly executed copy is {out / (name + '.ipynb')}:\n"
                           f"{failed[name]}" for name in names if name in failed)
        raise RuntimeError(f"{len(failed)} of {len(names)} notebook(s) failed: {', '.join(n for n in names if n in failed)}\n"
                           + detail)
    return {name: timings[name] for name in names}


def _execute_one(name: str, parameters: dict, out: Path, root: Path) -> float:
    """One notebook into ``out``; its seconds (a placeholder page of it is removed)."""
    import papermill as pm

    target = out / f"{name}.ipynb"
    t0 = time.perf_counter()
    pm.execute_notebook(str(notebook_path(name, root)), str(target), parameters=parameters,
                        kernel_name=KERNEL, cwd=str(root), progress_bar=False, log_output=False,
                        report_mode=False, kernel_manager_class=_ipc_kernel_manager())
    seconds = time.perf_counter() - t0
    if is_placeholder(out / f"{name}.md"):
        (out / f"{name}.md").unlink()
    return seconds


def cross_configs(name: str, datasets, profile: str, data_root: dict | None = None, device: str = "cpu",
                  **overrides) -> list:
    """The configs of the cross-set runs a page shows (none with fewer than two data sets)."""
    from .cross import plan, plan_config

    datasets = list(datasets)
    if len(datasets) < 2:
        return []
    return [plan_config(plan(mode, datasets), profile, "full", data_root, device, **overrides)
            for mode in page(name).cross_modes]


def train_pages(names, parameters: dict, args, stages: StageClock | None = None) -> int:
    """Train every unfinished run the pages ``names`` show, and the held-out models of the
    prediction page; returns how many LOSO runs were trained. ``stages`` records the times."""
    stages = stages if stages is not None else StageClock()
    configs = cli_args.configs_from_args(
        args, list(dict.fromkeys(v for n in names for v in notebook_variants(n))), parameters["datasets"])
    if args.seeds:
        configs = [cfg.replace(seed=s) for cfg in configs for s in args.seeds]
    for name in names:  # the seed-spread page's runs, the cross-set runs and the control runs
        over = dict(parameters["overrides"])
        over.pop("seeds", None)
        configs += list(seed_run_configs(name, parameters["datasets"], args.profile,
                                         parameters["data_root"], parameters["device"], **over).values())
        configs += cross_configs(name, parameters["datasets"], args.profile, parameters["data_root"],
                                 parameters["device"], **over)
        configs += list(control_run_configs(name, parameters["datasets"], args.profile, parameters["data_root"],
                                            parameters["device"], **over).values())
    n = ensure_runs(configs, parameters["runs_dir"], executor=args.executor, jobs=args.jobs,
                    ray_address=args.ray_address, progress=not args.no_progress, stages=stages)
    if "predict_demo" in names:  # its models are trained on all subjects but the last (the page's default)
        from .data.registry import samples_for
        from .train.final import ensure_checkpoint, resolve_held_out

        with stages.stage("held-out models", "prediction page"):
            for cfg in cli_args.configs_from_args(args, ["full"], parameters["datasets"]):
                held = resolve_held_out(sorted({s.subject for s in samples_for(cfg)}), "last")
                ensure_checkpoint(cfg, parameters["runs_dir"], held, progress=not args.no_progress)
    return n


def jupyter_book_command() -> list[str]:
    exe = Path(sys.executable).parent / "jupyter-book"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("jupyter-book")
    if found:
        return [found]
    return [sys.executable, "-m", "jupyter_book.cli.main"]


def build_book(book_dir: Path, root: Path | None = None, quiet: bool = False) -> Path:
    """``jupyter-book build <book_dir> -W --keep-going``; returns the built index.html."""
    root = root or repo_root()
    cmd = jupyter_book_command() + ["build", str(book_dir), "-W", "--keep-going"]
    proc = subprocess.run(cmd, cwd=str(root), env=kernel_env(root), capture_output=quiet, text=True)
    if proc.returncode != 0:
        detail = (proc.stdout or "")[-6000:] + (proc.stderr or "")[-4000:] if quiet else ""
        raise RuntimeError(f"jupyter-book build failed (exit {proc.returncode}): {' '.join(cmd)}\n{detail}")
    return Path(book_dir) / "_build" / "html" / "index.html"


def preflight_ok(args, datasets, roots) -> bool:
    """``microau doctor``'s checks for this command; prints what is missing and what to do."""
    from .doctor import blocking, format_report, preflight

    checks = preflight(args.profile, roots or None, datasets, pretrained=args.pretrained,
                       magnify=args.magnify, magnify_checkpoint=args.magnify_checkpoint,
                       device=args.device, runs_dir=args.runs)
    missing = blocking(checks)
    if missing:
        print(format_report(checks))
        print(f"microau reproduce: {len(missing)} required item(s) missing (above); nothing was run")
    return not missing


def _main(args) -> int:
    root = repo_root()
    if not (root / "notebooks").is_dir() or not (root / "book").is_dir():
        raise FileNotFoundError(f"{root} is not a microau checkout (no notebooks/ and book/); run "
                                "microau reproduce from the repository root")
    datasets = list(args.datasets)
    roots = cli_args.parse_roots(args.root, datasets)
    names = select(args.only)
    parameters = {"datasets": datasets, "profile": args.profile, "data_root": roots or None,
                  "device": args.device or "cpu", "runs_dir": str(runs_dir(args.runs)),
                  "train_missing": False, "overrides": cli_args.config_overrides(args)}
    parameters["overrides"].pop("device", None)
    if args.seeds:
        parameters["overrides"]["seeds"] = list(args.seeds)
    book = root / "book"
    if not preflight_ok(args, datasets, roots):
        return 1
    print(f"microau reproduce: {len(names)} notebook(s), profile {args.profile}, data "
          f"{', '.join(datasets)}, device {parameters['device']}; runs in {parameters['runs_dir']}")
    t_start = time.perf_counter()
    stages = StageClock()
    n_trained = train_pages(names, parameters, args, stages)
    if n_trained:
        print(f"data prepared and {n_trained} LOSO run(s) trained in {time.perf_counter() - t_start:.0f} s")
    t0 = time.perf_counter()
    jobs = args.notebook_jobs or available_cores()
    with stages.stage("notebooks", f"{len(names)} notebook(s), up to {jobs} at a time"):
        timings = execute_notebooks(names, parameters, book, root, progress=not args.no_progress, jobs=jobs)
    for name, s in timings.items():
        print(f"  {name:22s} {s:7.1f} s  -> book/{OUTPUT_DIR}/{name}.ipynb")
    print(f"notebooks done in {time.perf_counter() - t0:.0f} s")
    if args.no_build:
        print("book not built (--no-build); build it with: jupyter-book build book/ -W")
        print(f"total {time.perf_counter() - t_start:.0f} s")
        print(stages.table())
        return 0
    t0 = time.perf_counter()
    with stages.stage("book", "jupyter-book build"):
        index = build_book(book, root)
    print(f"book built in {time.perf_counter() - t0:.0f} s; total {time.perf_counter() - t_start:.0f} s")
    print(stages.table())
    print(f"\nThe book is built. Open {index.relative_to(root)} in a browser:\n  {index}")
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "reproduce", help="train the runs, execute every table/figure notebook and build the book",
        description="Train every LOSO run the book shows, execute the notebooks of the paper's "
                    "tables and figures with papermill into book/reproduction/ and build the "
                    "Jupyter Book (warnings are errors).")
    cli_args.add_run_args(p, many_datasets=True, variant=False)
    cli_args.add_executor_args(p)
    p.add_argument("--only", action="append", default=None, metavar="NAMES",
                   help="notebooks to execute, comma-separated or the flag repeated (default: all): "
                        f"{', '.join(NOTEBOOKS)}")
    p.add_argument("--seeds", nargs="+", type=int, default=None, metavar="S",
                   help="train every run once per seed; the tables then show each row's mean and "
                        "standard deviation over the seeds (the paper reports seed 1 only)")
    p.add_argument("--notebook-jobs", type=int, default=None, metavar="N",
                   help="notebooks executed at a time, each in its own kernel (default: one per core)")
    p.add_argument("--no-build", action="store_true", help="execute the notebooks, do not build the book")
    p.set_defaults(func=_main)
