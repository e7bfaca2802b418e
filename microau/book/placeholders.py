"""Placeholder pages: before a notebook has been executed (a fresh clone), the book shows a short
page in its place that says how to compute it and, for a table, what the paper reports.

Executed notebooks and placeholders live in ``book/reproduction/``, a folder that ignores itself
in git (it holds a ``.gitignore`` with ``*``), so neither is ever committed.
"""
from __future__ import annotations

from pathlib import Path

from ..paper import dataset_name, metric_name, paper_table
from .manifest import LANDING_PAGE, NOTEBOOKS, page

OUTPUT_DIR = "reproduction"  # under book/
PLACEHOLDER_MARK = "<!-- microau: placeholder page, replaced by `microau reproduce` -->"


def notebook_script(name: str, root: Path) -> Path | None:
    """``notebooks/<name>.py`` under ``root``, else in the checkout this package runs from (a book
    copied elsewhere still finds its notebooks); None when neither has it."""
    from ..paths import repo_root

    for base in (Path(root), repo_root()):
        py = base / "notebooks" / f"{name}.py"
        if py.is_file():
            return py
    return None


def notebook_title(name: str, root: Path) -> str:
    """The first level-1 heading of the notebook's paired script (or its name)."""
    py = notebook_script(name, root)
    if py is not None:
        for line in py.read_text(encoding="utf-8").splitlines():
            if line.startswith("# # "):
                return line[4:].strip()
    return name


def self_ignore(out_dir: Path) -> None:
    """Create ``out_dir`` with a .gitignore that keeps everything in it out of git."""
    out_dir.mkdir(parents=True, exist_ok=True)
    gi = out_dir / ".gitignore"
    if not gi.exists():
        gi.write_text("# written by microau: executed notebooks and placeholders stay out of git\n*\n")


def is_placeholder(path: Path) -> bool:
    return path.exists() and path.read_text(encoding="utf-8").startswith(PLACEHOLDER_MARK)


def paper_markdown(table_id: str) -> str:
    """The paper's numbers of one table as a Markdown table (labelled as the paper's)."""
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


def prose_cells(name: str, root: Path) -> list[str]:
    """The markdown cells of a notebook that read without its outputs (neither tagged
    ``needs-output`` nor pasting a glued output), the first one's title removed."""
    import jupytext

    py = notebook_script(name, root)
    if py is None:
        return []
    nb = jupytext.read(py)
    cells = [c.source for c in nb.cells if c.cell_type == "markdown"
             and "needs-output" not in c.metadata.get("tags", []) and "{glue" not in c.source]
    if cells and cells[0].startswith("# "):
        cells[0] = cells[0].split("\n", 1)[1].strip() if "\n" in cells[0] else ""
    return [c for c in cells if c]


def placeholder_text(name: str, root: Path) -> str:
    title = notebook_title(name, root)
    intro = prose_cells(name, root) if name == LANDING_PAGE else []
    body = [
        PLACEHOLDER_MARK,
        f"# {title}",
        "",
        *([intro.pop(0), ""] if intro else []),
        ":::{admonition} Not computed in this copy of the book",
        ":class: warning",
        f"This page is made by executing the notebook `notebooks/{name}.ipynb`, which has not been "
        + ("run here yet. It reports what every other page computed; to compute them all (the runs "
           "are trained once and then reused), run from the repository root:" if name == LANDING_PAGE else
           "run here yet. To compute it (the runs it needs are trained once and then reused), run from "
           "the repository root:"),
        "",
        "```bash",
        "microau reproduce --profile quick" + ("" if name == LANDING_PAGE else f" --only {name}"),
        "```",
        "",
        "or `microau reproduce` for every page. The command executes the notebook into "
        f"`book/{OUTPUT_DIR}/{name}.ipynb`, replacing this page, and rebuilds the book.",
        ":::",
    ]
    for cell in intro:  # the landing page: its prose that reads without outputs
        body += ["", cell]
    table_id = page(name).table
    if table_id:
        body += ["", "## The paper's numbers", "",
                 "Until the page is computed, here is what the paper reports (from "
                 "`microau/paper_results.yaml`):", "", paper_markdown(table_id)]
    return "\n".join(body) + "\n"


def ensure_placeholders(book_dir: Path, root: Path, names=NOTEBOOKS) -> list[str]:
    """Write a placeholder page for each notebook without an executed copy in
    ``book/reproduction/``; remove placeholders whose notebook has been executed. Returns the
    names that are placeholders now."""
    out = Path(book_dir) / OUTPUT_DIR
    self_ignore(out)
    missing = []
    for name in names:
        nb, md = out / f"{name}.ipynb", out / f"{name}.md"
        if nb.exists():
            if is_placeholder(md):
                md.unlink()
            continue
        text = placeholder_text(name, root)
        if not md.exists() or md.read_text(encoding="utf-8") != text:
            md.write_text(text, encoding="utf-8")
        missing.append(name)
    return missing
