"""``microau reproduce``: execute every table and figure notebook, then build the book.

    microau reproduce --profile quick [--datasets phantom-casme2 phantom-samm]
                      [--root casme2=DIR --root samm=DIR] [--device cuda] [--jobs N]
                      [--only table2_ablation,fig7_tsne] [--no-build] [--runs DIR]

First every LOSO run the selected notebooks show is trained, by a pool of worker processes
(``microau.train.pool``; ``--jobs``), and stored in the runs directory. Then each notebook in
``notebooks/`` is executed with papermill (kernel ``python3``) into
``book/reproduction/<name>.ipynb``; LOSO runs that are already finished are read back from the
runs directory, so a second call only redoes what is missing. Then ``jupyter-book build book/``
runs with Sphinx warnings treated as errors.

Before any notebook has been executed (a fresh clone), ``book/reproduction/`` holds no notebook.
This module is also a Sphinx extension (listed in ``_config.yml``): at the start of every book
build it writes a short placeholder page for each notebook that has not been executed yet, which
says how to compute it and shows the paper's numbers. The folder ignores itself in git (it holds a
``.gitignore`` with ``*``), so neither executed copies nor placeholders are ever committed.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

# Book order. The first one belongs to the data chapter, the last to the "your own data" chapter,
# the others to the reproduction chapter.
NOTEBOOKS: tuple[str, ...] = (
    "data_overview",
    "fig3_au_regions",
    "table2_ablation",
    "table3_text_encoder",
    "table4_alpha",
    "table5_beta",
    "table6_pta",
    "table7_gda",
    "table8_miaucl",
    "fig5_heatmaps",
    "fig6_similarity",
    "fig7_tsne",
    "table9_sota",
    "table10_mer",
    "predict_demo",  # the "Your own data" chapter: applying a trained model to one clip
)
OUTPUT_DIR = "reproduction"  # under book/
PLACEHOLDER_MARK = "<!-- microau: placeholder page, replaced by `microau reproduce` -->"
KERNEL = "python3"


# --------------------------------------------------------------------------- locations


def repo_root() -> Path:
    from .report import repo_root as _root

    return _root()


def notebook_path(name: str, root: Path | None = None) -> Path:
    return (root or repo_root()) / "notebooks" / f"{name}.ipynb"


def notebook_title(name: str, root: Path | None = None) -> str:
    """The first level-1 heading of the notebook's paired script (or its name)."""
    root = root or repo_root()
    py = root / "notebooks" / f"{name}.py"
    if py.is_file():
        for line in py.read_text(encoding="utf-8").splitlines():
            if line.startswith("# # "):
                return line[4:].strip()
    return name


def _self_ignore(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    gi = out_dir / ".gitignore"
    if not gi.exists():
        gi.write_text("# written by microau.reproduce: executed notebooks and placeholders stay out of git\n*\n")


# --------------------------------------------------------------------------- placeholders


def _paper_markdown(table_id: str) -> str:
    """The paper's numbers of one table as a Markdown table (labelled as the paper's)."""
    from .paper import dataset_name, metric_name, paper_table

    t = paper_table(table_id)
    head = ["row"]
    for d in t.datasets:
        for m in t.metrics:
            head.append(f"paper · {dataset_name(d)} {metric_name(m)}")
    extra = "text_similarity" if any("text_similarity" in r for r in t.rows) else None
    if extra:
        head.append(f"paper · {metric_name(extra)}")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in t.rows:
        cells = [r["label"]]
        for d in t.datasets:
            for m in t.metrics:
                v = t.value(r["row"], d, m)
                cells.append("N/A" if v is None else f"{v:.3f}")
        if extra:
            cells.append(f"{r[extra]:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def placeholder_text(name: str, root: Path | None = None) -> str:
    title = notebook_title(name, root)
    body = [
        PLACEHOLDER_MARK,
        f"# {title}",
        "",
        ":::{admonition} Not computed in this copy of the book",
        ":class: warning",
        f"This page is made by executing the notebook `notebooks/{name}.ipynb`, which has not been "
        "run here yet. To compute it (the runs it needs are trained once and then reused), run from "
        "the repository root:",
        "",
        "```bash",
        f"microau reproduce --profile quick --only {name}",
        "```",
        "",
        "or `microau reproduce` for every page. The command executes the notebook into "
        f"`book/{OUTPUT_DIR}/{name}.ipynb`, replacing this page, and rebuilds the book.",
        ":::",
    ]
    if name.startswith("table"):
        table_id = name.split("_")[0]
        body += ["", "## The paper's numbers", "",
                 "Until the page is computed, here is what the paper reports (from "
                 "`microau/paper_results.yaml`):", "", _paper_markdown(table_id)]
    return "\n".join(body) + "\n"


def ensure_placeholders(book_dir: Path, names=NOTEBOOKS, root: Path | None = None) -> list[str]:
    """Write a placeholder page for each notebook without an executed copy in
    ``book/reproduction/``; remove placeholders whose notebook has been executed. Returns the
    names that are placeholders now."""
    out = Path(book_dir) / OUTPUT_DIR
    _self_ignore(out)
    missing = []
    for name in names:
        nb, md = out / f"{name}.ipynb", out / f"{name}.md"
        if nb.exists():
            if md.exists() and md.read_text(encoding="utf-8").startswith(PLACEHOLDER_MARK):
                md.unlink()
            continue
        text = placeholder_text(name, root)
        if not md.exists() or md.read_text(encoding="utf-8") != text:
            md.write_text(text, encoding="utf-8")
        missing.append(name)
    return missing


def setup(app):
    """Sphinx extension entry point: placeholders for unexecuted notebooks before reading.

    It also applies ``microau_numfig`` (default False) to ``numfig`` after every other
    extension: sphinx-jupyterbook-latex forces ``numfig = True`` for every builder, and the book's
    own running figure numbers would be confused with the paper's figure numbers."""

    def _on_config(app, config):
        src = Path(app.srcdir)
        root = src.parent if (src.parent / "notebooks").is_dir() else None
        ensure_placeholders(src, root=root)

    def _numfig(app, config):
        config.numfig = bool(config.microau_numfig)

    app.add_config_value("microau_numfig", False, "env")
    app.connect("config-inited", _on_config, priority=100)
    app.connect("config-inited", _numfig, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


# --------------------------------------------------------------------------- executing


def parse_roots(items: list[str] | None) -> dict[str, str] | None:
    """['casme2=/data/CASME2', ...] -> {'casme2': '/data/CASME2'}."""
    if not items:
        return None
    roots = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--root takes DATASET=DIR (e.g. casme2=/data/CASME2), got {item!r}")
        key, value = item.split("=", 1)
        roots[key.strip()] = str(Path(value).expanduser().resolve())
    return roots


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
                      progress: bool = True) -> dict[str, float]:
    """Execute each notebook with papermill into ``book_dir/reproduction``; returns seconds per
    notebook. Stops at the first failing notebook (its partial output is kept for inspection)."""
    import papermill as pm
    from tqdm.auto import tqdm

    root = root or repo_root()
    out = Path(book_dir) / OUTPUT_DIR
    _self_ignore(out)
    env = kernel_env(root)
    keys = ("PYTHONPATH", "HF_HUB_OFFLINE", "PYDEVD_DISABLE_FILE_VALIDATION", "MPLBACKEND")
    saved = {k: os.environ.get(k) for k in keys}
    timings: dict[str, float] = {}
    bar = tqdm(list(names), desc="notebooks", unit="nb", disable=not progress, dynamic_ncols=True)
    try:
        os.environ.update({k: env[k] for k in keys})  # the kernels inherit these
        for name in bar:
            bar.set_postfix_str(name)
            target = out / f"{name}.ipynb"
            t0 = time.perf_counter()
            try:
                pm.execute_notebook(str(notebook_path(name, root)), str(target), parameters=parameters,
                                    kernel_name=KERNEL, cwd=str(root), progress_bar=False,
                                    log_output=False, report_mode=False)
            except Exception as err:  # papermill.PapermillExecutionError and kernel failures
                raise RuntimeError(f"notebook {name} failed; the partly executed copy is {target}:\n"
                                   f"{err}") from err
            timings[name] = time.perf_counter() - t0
            placeholder = out / f"{name}.md"
            if placeholder.exists() and placeholder.read_text(encoding="utf-8").startswith(PLACEHOLDER_MARK):
                placeholder.unlink()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        bar.close()
    return timings


def train_notebook_runs(names, parameters: dict, jobs: int | None = None,
                        progress: bool = True) -> tuple[int, float]:
    """Prepare the data and train every unfinished run the notebooks ``names`` show, in a pool of
    ``jobs`` processes. Returns (runs trained, seconds)."""
    from . import report
    from .train.data import data_key, load_train_data
    from .train.loso import run_dir_for
    from .train.pool import train_runs

    profile, device = parameters["profile"], parameters["device"]
    runs_dir = parameters["runs_dir"]
    configs = [report.make_run_config(profile, v, d, parameters["data_root"], device)
               for d in parameters["datasets"] for name in names for v in report.notebook_variants(name)]
    todo = [c for c in configs if not (run_dir_for(c, runs_dir) / "DONE").exists()]
    if not todo:
        return 0, 0.0
    t0 = time.perf_counter()
    prepared = set()
    for cfg in todo:  # phantom and flow images once per data set, before any worker starts
        if data_key(cfg) not in prepared:
            report.ensure_data(cfg.dataset, profile)
            load_train_data(cfg, progress=progress)
            prepared.add(data_key(cfg))
    print(f"data of {len(prepared)} set(s) ready in {time.perf_counter() - t0:.0f} s", flush=True)
    runs = train_runs(todo, runs_dir, jobs=jobs, progress=progress)
    return sum(r.seconds is not None for r in runs), time.perf_counter() - t0


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


def _select(only: str | None) -> list[str]:
    if not only:
        return list(NOTEBOOKS)
    names = [n.strip().removesuffix(".ipynb").removesuffix(".py") for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in NOTEBOOKS]
    if unknown:
        raise ValueError(f"unknown notebook(s) {unknown}; choose from {', '.join(NOTEBOOKS)}")
    return [n for n in NOTEBOOKS if n in names]


def _main(args) -> int:
    from .report import is_phantom

    root = repo_root()
    if not (root / "notebooks").is_dir() or not (root / "book").is_dir():
        raise FileNotFoundError(f"{root} is not a microau checkout (no notebooks/ and book/); run "
                                "microau reproduce from the repository root")
    roots = parse_roots(args.root)
    datasets = list(args.datasets)
    for d in datasets:
        if not is_phantom(d) and not (roots and d in roots):
            raise ValueError(f"dataset {d!r} needs --root {d}=DIR (the folder of your licensed copy)")
    names = _select(args.only)
    runs_dir = str(Path(args.runs).expanduser().resolve()) if args.runs else None
    if runs_dir is None:
        from .report import resolve_runs_dir

        runs_dir = str(resolve_runs_dir(None))
    parameters = {"datasets": datasets, "profile": args.profile, "data_root": roots,
                  "device": args.device, "runs_dir": runs_dir}
    book = root / "book"
    print(f"microau reproduce: {len(names)} notebook(s), profile {args.profile}, data "
          f"{', '.join(datasets)}, device {args.device}; runs in {runs_dir}")
    t_start = time.perf_counter()
    n_trained, train_s = train_notebook_runs(names, parameters, jobs=args.jobs, progress=not args.no_progress)
    if n_trained:
        print(f"data prepared and {n_trained} LOSO run(s) trained in {train_s:.0f} s")
    t0 = time.perf_counter()
    timings = execute_notebooks(names, parameters, book, root, progress=not args.no_progress)
    for name, s in timings.items():
        print(f"  {name:22s} {s:7.1f} s  -> book/{OUTPUT_DIR}/{name}.ipynb")
    print(f"notebooks done in {time.perf_counter() - t0:.0f} s")
    if args.no_build:
        print("book not built (--no-build); build it with: jupyter-book build book/ -W")
        print(f"total {time.perf_counter() - t_start:.0f} s")
        return 0
    t0 = time.perf_counter()
    index = build_book(book, root)
    print(f"book built in {time.perf_counter() - t0:.0f} s; total {time.perf_counter() - t_start:.0f} s")
    print(f"\nThe book is built. Open {index.relative_to(root)} in a browser:\n  {index}")
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "reproduce", help="execute every table/figure notebook and build the book",
        description="Execute the notebooks of the paper's tables and figures with papermill into "
                    "book/reproduction/ and build the Jupyter Book (warnings are errors).")
    p.add_argument("--profile", default="quick", choices=["smoke", "quick", "paper"])
    p.add_argument("--datasets", nargs="+", default=["phantom-casme2", "phantom-samm"],
                   choices=["phantom-casme2", "phantom-samm", "casme2", "samm"], metavar="DATASET",
                   help="phantom-casme2 phantom-samm (default), or casme2 / samm with --root")
    p.add_argument("--root", action="append", metavar="DATASET=DIR",
                   help="root of a licensed data set, e.g. --root casme2=/data/CASME2 (repeatable)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="LOSO runs trained at once, each in its own process (default: one per core "
                        "up to 4 on a CPU, 1 on a GPU)")
    p.add_argument("--only", default=None, metavar="NAMES",
                   help=f"comma-separated notebooks to execute (default: all): {', '.join(NOTEBOOKS)}")
    p.add_argument("--runs", default=None, help="runs directory (default: $MICROAU_RUNS or <repo>/runs)")
    p.add_argument("--no-build", action="store_true", help="execute the notebooks, do not build the book")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_main)
