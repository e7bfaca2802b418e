"""How a page was computed, the way every page ends: notebook, parameters, data, runs, seeds,
backbone, commit, date and time taken, all read from the page and its runs."""
from __future__ import annotations

import time
from pathlib import Path

from ..paths import git_commit, repo_root, runs_dir
from .labels import data_label


def _short(commit: str) -> str:
    commit = str(commit or "unknown")
    return commit[:12] + (" (with uncommitted changes)" if commit.endswith("+dirty") else "")


def _where(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(repo_root().resolve()))
    except ValueError:
        return str(path)


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def runs_summary(runs: list) -> dict:
    """What the runs a page read have in common: how many, their seeds, data sets, configs, the
    commits they were trained at and the training time they recorded."""
    seeds = sorted({r.config.seed for r in runs})
    commits = sorted({str(r.meta.get("git_commit", "unknown")) for r in runs})
    seconds = sum(float((r.meta.get("timings") or {}).get("total_s", 0.0)) for r in runs)
    data = {}
    for r in runs:
        data.setdefault(r.config.dataset, r.meta)
    return {"n": len(runs), "seeds": seeds, "commits": commits, "train_s": seconds, "data": data,
            "configs": [r.config for r in runs]}


def colophon_markdown(page) -> str:
    from .opening import backbone_words

    p = page.parameters
    took = time.perf_counter() - page.started
    lines = [
        f"- **Notebook**: `notebooks/{page.name}.ipynb`, executed {page.executed:%Y-%m-%d %H:%M} UTC "
        f"in {_minutes(took)}; recompute with `microau reproduce --profile {page.profile} --only {page.name}`.",
        f"- **Parameters**: profile *{p['profile']}*, data {', '.join(f'*{d}*' for d in p['datasets'])}, "
        f"device {p['device']}" + (f", settings {p['overrides']}" if p["overrides"] else "") + ".",
    ]
    runs = page.all_runs()
    if runs:
        s = runs_summary(runs)
        trained = sum(len((r.context or {}).get("trained_now", ())) for r in [page.runs, *page.extra_runs.values()]
                      if r is not None)
        seeds = ", ".join(str(x) for x in s["seeds"])
        lines.append(f"- **Runs**: {s['n']} LOSO run(s) read from `{_where(runs_dir(page.runs_dir))}`"
                     + (f", {trained} of them trained while the page ran" if trained else "")
                     + f"; seed(s) {seeds}; their training took {_minutes(s['train_s'])} in all.")
        data = "; ".join(f"*{data_label(d)}*: {m.get('n_clips')} clips, {m.get('n_subjects')} LOSO folds"
                         for d, m in s["data"].items())
        lines.append(f"- **Data**: {data}.")
        backbones = sorted({backbone_words(c) for c in s["configs"]})
        epochs = sorted({c.epochs for c in s["configs"]})
        lines.append(f"- **Model**: backbone {', '.join(backbones)}; "
                     f"{', '.join(str(e) for e in epochs)} epoch(s).")
        lines.append(f"- **Code**: runs trained at commit {', '.join(_short(c) for c in s['commits'])}; "
                     f"page executed at commit {_short(git_commit())}.")
    else:
        lines.append(f"- **Code**: page executed at commit {_short(git_commit())}; it reads no LOSO run.")
    return "\n".join(lines)
