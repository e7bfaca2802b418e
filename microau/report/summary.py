"""The landing page: what the book found, computed from the runs that exist. For every page, the
paper's table or figure it regenerates, whether all its runs are there, and its verdicts counted
(``report.tally``, the counts each page opens with); what was checked exactly; and where the
numbers come from (data, profile, backbone, commits, training time). It never trains."""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ..book.manifest import PAGES
from ..data.registry import is_phantom
from .claims import claim_of
from .colophon import _minutes, _short
from .labels import data_label
from .tally import Tally, as_row, page_tally, summed
from .verdicts import AGREEMENTS, counts_words

if TYPE_CHECKING:  # pragma: no cover
    from ..runs import Runs

SELF = "summary"


def read_finished(name: str, params: dict) -> tuple["Runs", int]:
    """The finished runs of page ``name`` under ``params`` (a page's parameters; nothing is
    trained), and how many runs the page needs in all."""
    from ..book.manifest import page as manifest_page
    from ..runs import Runs, control_run_configs, is_finished, make_run_config, read_run, seed_run_configs

    p = manifest_page(name)
    over = {k: v for k, v in (params.get("overrides") or {}).items() if k != "seeds"}
    datasets = list(params["datasets"])
    configs = {(v, d): make_run_config(params["profile"], v, d, params["data_root"], params["device"], **over)
               for d in datasets for v in p.variants}
    configs.update(control_run_configs(name, datasets, params["profile"], params["data_root"], params["device"],
                                       **over))
    if p.seeds:
        configs.update(seed_run_configs(name, datasets, params["profile"], params["data_root"],
                                        params["device"], **over))
    if p.cross_modes and len(datasets) > 1:  # the cross-set runs of the full model, keyed ('full', label)
        from ..cross import plan, plan_config

        plans = [plan(mode, datasets) for mode in p.cross_modes]
        configs.update({("full", q.label): plan_config(q, params["profile"], "full", params["data_root"],
                                                       params["device"], **over) for q in plans})
    runs = Runs(datasets=tuple(datasets), profile=params["profile"], seeds=tuple(p.seeds),
                context=dict(data_root=params["data_root"], device=params["device"],
                             runs=params["runs_dir"], overrides=over))
    for key, cfg in configs.items():
        if is_finished(cfg, params["runs_dir"]):
            runs.results[key] = read_run(cfg, params["runs_dir"])
    return runs, len(configs)


def _link(name: str, title: str) -> str:
    return f'<a href="{name}.html">{title}</a>'


def book_pages(page) -> tuple[pd.DataFrame, dict[str, Tally], list]:
    """One row per page of the book (this one excepted), in book order: the page (linked, its title
    names the paper's table or figure), whether all its runs are there, and its verdicts counted.
    Also returns every page's :class:`Tally` and every run read (each once)."""
    from ..book.placeholders import notebook_title
    from ..paths import repo_root

    rows, tallies, every = [], {}, {}
    for p in PAGES:
        if p.name in (SELF, "predict_demo"):
            continue
        runs, needed = read_finished(p.name, page.parameters)
        page.extra_runs[p.name] = runs  # what the footer counts as read
        for r in runs.results.values():
            every.setdefault(str(r.run_dir), r)
        complete = len(runs.results) == needed
        if not needed and p.cross_modes:
            state = "no: needs two or more data sets"
        elif not needed:
            state = "yes (needs no LOSO run)"
        elif complete:
            state = f"yes ({needed} runs)"
        else:
            state = f"no: {needed - len(runs.results)} of {needed} runs missing"
        if not needed:
            tally = Tally()
        elif complete:
            tally = page_tally(p.name, runs)
        else:
            tally = Tally(note=f"not computed: microau reproduce --only {p.name}")
        tallies[p.name] = tally
        note = "ground-truth checks on the page" if p.figure_variants else tally.note
        rows.append({"page": _link(p.name, notebook_title(p.name, repo_root())), "regenerated": state,
                     **as_row(tally), "note": note if not tally.counts else ""})
    out = pd.DataFrame(rows).set_index("page")
    for k in ("holds", "within noise", "reversed", "not judged"):
        out[k] = out[k].astype("Int64")
    return out, tallies, list(every.values())


def verdict_counts(tallies: dict[str, Tally]) -> pd.DataFrame:
    """The counts of the pages that have some, indexed by the paper's table ('Table II', ...)."""
    rows = {claim_of(name).shows or name: as_row(t) for name, t in tallies.items() if t.counts}
    return pd.DataFrame.from_dict(rows, orient="index")


def found_sentence(tallies: dict[str, Tally]) -> str:
    """The book's finding in one sentence: the paper's comparisons that hold, are within noise,
    are reversed or were not judged, over every page and data set."""
    total = summed(tallies)
    n = sum(total.values())
    if not n:
        return ("No comparison of the paper's could be judged yet: the pages' runs are missing. "
                "`microau reproduce --profile quick` computes them.")
    words = ", ".join(f"**{total.get(k, 0)} {k}**" for k in AGREEMENTS if total.get(k))
    return (f"Of the {n} comparisons between rows that the paper's tables make and that our runs "
            f"could judge, {words}.")


def pretraining_seconds(cfg) -> float | None:
    """How long the phantom pretraining of ``cfg``'s backbone took, from its checkpoint's record."""
    from ..pretrain.checkpoint import PHANTOM_TAG, PretrainSettings, checkpoint_path

    if cfg.pretrained != PHANTOM_TAG:
        return None
    record = Path(checkpoint_path(cfg.clip_model, PretrainSettings())).with_suffix(".json")
    try:
        return float(json.loads(record.read_text())["report"]["total_s"])
    except (OSError, KeyError, ValueError, TypeError):
        return None


def provenance_markdown(page, runs: list) -> str:
    """Where the numbers come from: data, profile, backbone, commits and how long training took."""
    from .colophon import runs_summary
    from .opening import backbone_words

    if not runs:
        return "No run has been trained yet in `" + str(page.runs_dir or "runs/") + "`."
    s = runs_summary(runs)
    data = "; ".join(
        f"*{data_label(d)}* ({'simulated' if is_phantom(d) else 'licensed copy'}: {m.get('n_clips')} clips, "
        f"{m.get('n_subjects')} subjects)" for d, m in s["data"].items())
    backbones = sorted({backbone_words(c) for c in s["configs"]})
    epochs = sorted({c.epochs for c in s["configs"]})
    pre = {c.clip_model: pretraining_seconds(c) for c in s["configs"]}
    pre = {k: v for k, v in pre.items() if v is not None}
    lines = [
        f"- **Data**: {data}.",
        f"- **Profile**: *{page.profile}*; backbone {', '.join(backbones)}, "
        f"{', '.join(str(e) for e in epochs)} epoch(s), device {page.device}.",
        f"- **Runs**: {s['n']} distinct LOSO runs, seed(s) {', '.join(str(x) for x in s['seeds'])}.",
        f"- **Commit**: runs trained at {', '.join(_short(c) for c in s['commits'])}.",
        f"- **Time**: training the runs took {_minutes(s['train_s'])} in all (their recorded times, "
        "added up)" + "".join(f"; pretraining the {k} backbone took {_minutes(v)}" for k, v in pre.items())
        + ".",
    ]
    return "\n".join(lines)


def checked_exactly(page, tallies: dict[str, Tally], runs: list) -> pd.DataFrame:
    """What was checked and how exactly: the identities executed now (Eq. 9-11, 'LSI ×', Eq. 8),
    the protocol as run, the paper's comparisons judged, and the settings that differ from the
    paper's (``report.settings``)."""
    from . import findings
    from .settings import settings_table

    from ..aus import DATASET_AUS
    from ..data.registry import base_dataset

    gaps = findings.miaucl_identity()
    lsi = findings.no_lsi_attention().loc["readings/gsd_only_cls_token"]
    n_aus = len(DATASET_AUS[base_dataset(page.datasets[0])])
    floors = findings.gd_loss_floors(n_aus)["least GDLoss"]
    zero = [int(k) for k, v in floors.items() if v == 0]
    rows = [
        {"what": "Eq. 9-11 (MiAUCL) as written", "how": "executed on one random batch, float64",
         "result": "equals local OrigCL: loss difference "
                   f"{float(gaps.loc['normalized', 'loss_difference']):.1e}"},
        {"what": "Table II 'LSI ×' as the class token", "how": "GDA on random inputs, small random CLIP",
         "result": f"GDA's attention is uniform (largest gap {float(lsi['max |A − 1/N|']):.1e}) and its "
                   f"weights ignore the input (largest change {float(lsi['max |ΔW_d| between two inputs']):.1e})"},
        {"what": "Eq. 8 (GDLoss)", "how": f"closed form, N = {n_aus} AUs",
         "result": f"reaches zero only with {' or '.join(str(k) for k in zero)} active AU(s); with two "
                   f"it cannot go below {float(floors.loc[2]):.3f}"},
    ]
    folds = "; ".join(f"{data_label(d)}: {m.get('n_subjects')} folds, {m.get('n_clips')} clips"
                      for d, m in {r.config.dataset: r.meta for r in runs}.items())
    rows.append({"what": "Protocol (Sec. IV-A)", "how": "leave one subject out; predictions of all "
                 "folds concatenated, then F1 per AU and the mean", "result": folds or "no run yet"})
    total = summed(tallies)
    rows.append({"what": "The paper's row comparisons (Tables II-VIII, X)",
                 "how": "paired subject bootstrap and seed band",
                 "result": counts_words({k: total[k] for k in AGREEMENTS if total.get(k)}) if total
                 else "none judged yet"})
    st = settings_table()
    col = f"profile {page.profile}"
    if col in st.columns:
        paper_col = st.columns[0]
        differ = [name for name, r in st.iterrows() if str(r[paper_col]) != str(r[col])]
        rows.append({"what": "Setting", "how": f"{paper_col} against profile {page.profile}",
                     "result": "differs in " + ", ".join(differ) if differ else "the paper's"})
    return pd.DataFrame(rows).set_index("what")


def citation() -> str:
    """The paper and this software, as one would cite them, from ``paper_results.yaml`` (the
    paper's title, authors and arXiv identifier) and the package's version and the checkout's
    commit."""
    from .. import __version__
    from ..paper import load_paper_results
    from ..paths import git_commit

    src = load_paper_results()["source"]
    return (f"- **The paper**: {src['authors']}. *{src['title']}*. arXiv:{src['arxiv']}.\n"
            f"- **This software**: microau contributors. *microau: a reproducible companion to "
            f"Micro-AU CLIP*, version {__version__}, commit {_short(git_commit())}.")

