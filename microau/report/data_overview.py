"""The data chapter's tables: clips, subjects, AUs and emotions as the paper, the coding sheets and our data have them."""
from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from ..aus import AU_LANDMARKS, DATASET_AUS
from ..data.summary import summarize
from ..data.phantom import label_stats, read_truth
from ..paper import load_paper_results

from ..data.registry import base_dataset, is_phantom, root_for, samples_for
from ..paper import dataset_name
from ..runs import make_run_config
from .figure_data import token_index
from .labels import SEP, ours_label


def table1_tokens(landmarks: np.ndarray, image_size: int, grid: tuple[int, int],
                  aus: Iterable[int] | None = None) -> pd.DataFrame:
    """Table I for one clip: each AU's landmarks and the patch tokens (row, column) Eq. 1 picks."""

    rows = []
    for au in (aus or sorted(AU_LANDMARKS)):
        points = AU_LANDMARKS[au]
        tok = token_index(landmarks[list(points)], image_size, grid)
        cells = sorted({divmod(int(t), grid[1]) for t in tok})
        rows.append({"AU": f"AU{au}", "landmarks (Table I)": ", ".join(map(str, points)),
                     "tokens (row, col)": ", ".join(f"({r}, {c})" for r, c in cells),
                     "distinct tokens": len(cells)})
    return pd.DataFrame(rows).set_index("AU")


def sheet_stats(base: str) -> dict:
    """Label statistics of the public coding sheet of CASME II or SAMM (``me_label_stats.json``)."""

    return label_stats()[base]


def dataset_overview(datasets: Iterable[str], profile: str, data_root: dict | None = None, **overrides) -> pd.DataFrame:
    """Clips, subjects and AUs: as the paper describes each data set (Sec. IV-A), as its public
    coding sheet has them, and as the data this book used (after the profile's subject subset)."""

    described = load_paper_results()["datasets"]
    cols: dict[str, dict] = {}
    for dataset in datasets:
        base = base_dataset(dataset)
        name = dataset_name(base)
        if f"paper{SEP}{name}" not in cols:
            d = described[base]
            cols[f"paper{SEP}{name}"] = {"clips": d["clips"], "subjects": d["subjects"],
                                         "AUs used": ", ".join(f"AU{a}" for a in d["aus"])}
            st = sheet_stats(base)
            cols[f"coding sheet{SEP}{name}"] = {"clips": st["n_clips"], "subjects": st["n_subjects"],
                                                "AUs used": ", ".join(st["selected_aus"])}
        cfg = make_run_config(profile, "full", dataset, data_root, **overrides)
        samples = samples_for(cfg)

        cols[ours_label(dataset)] = {
            "clips": len(samples), "subjects": len({s.subject for s in samples}),
            "AUs used": ", ".join(f"AU{a}" for a in DATASET_AUS[base]),
        }
    return pd.DataFrame(cols)


def au_shares(datasets: Iterable[str], profile: str, data_root: dict | None = None, **overrides) -> pd.DataFrame:
    """Share of clips coding each selected AU: public coding sheet vs our data (tidy frame)."""

    rows = []
    for dataset in datasets:
        base = base_dataset(dataset)
        st = sheet_stats(base)
        cfg = make_run_config(profile, "full", dataset, data_root, **overrides)
        samples = samples_for(cfg)
        for au in DATASET_AUS[base]:
            rows.append({"dataset": dataset, "au": f"AU{au}", "source": f"coding sheet{SEP}{dataset_name(base)}",
                         "share of clips": st["au_counts_all"].get(f"AU{au}", 0) / st["n_clips"]})
            rows.append({"dataset": dataset, "au": f"AU{au}", "source": ours_label(dataset),
                         "share of clips": sum(au in s.aus for s in samples) / max(1, len(samples))})
    return pd.DataFrame(rows)


def cooccurrence_counts(samples, aus: tuple[int, ...]) -> pd.DataFrame:
    names = [f"AU{a}" for a in aus]
    lab = np.array([s.labels(aus) for s in samples], dtype=int).reshape(-1, len(aus))
    return pd.DataFrame(lab.T @ lab, index=names, columns=names)


def emotion_counts(datasets: Iterable[str], profile: str, data_root: dict | None = None, **overrides) -> pd.DataFrame:
    """Clips per three-class emotion (and those MER leaves out) for each of our data sets."""

    cols = {}
    for dataset in datasets:
        cfg = make_run_config(profile, "full", dataset, data_root, **overrides)
        cols[ours_label(dataset)] = summarize(samples_for(cfg)).emotion3_counts
    df = pd.DataFrame(cols).fillna(0).astype(int)
    df.index = [("left out of MER" if i == "excluded" else i) for i in df.index]
    return df


def example_clip_id(samples, aus: tuple[int, ...]) -> str:
    """The first clip with the largest number of the data set's AUs active."""
    best = max(samples, key=lambda s: (sum(s.labels(aus)), -samples.index(s)))
    return best.id


def phantom_amplitudes(cfg) -> pd.DataFrame | None:
    """Ground-truth motion amplitude (pixels, before magnification) of each AU in the phantom."""
    if not is_phantom(cfg.dataset):
        return None

    keep = {s.id for s in samples_for(cfg)}
    rows = []
    for t in read_truth(root_for(cfg)):
        if f"{t['subject']}/{t['clip']}" not in keep:
            continue
        for au, amp in t.get("amplitude_px", {}).items():
            rows.append({"au": f"AU{au}", "amplitude_px": float(amp),
                         "selected": int(au) in t.get("selected_aus", [])})
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    out = df.groupby("au").amplitude_px.describe()[["count", "min", "50%", "max"]]
    out = out.rename(columns={"50%": "median"})
    out["count"] = out["count"].astype(int)
    order = sorted(out.index, key=lambda s: int(s[2:]))
    return out.loc[order]


def fold_table(datasets: Iterable[str], profile: str, data_root: dict | None = None,
               **overrides) -> pd.DataFrame:
    """The LOSO folds of each data set as this book runs them: fold k tests subject k (sorted),
    with its number of clips; every other subject trains."""
    rows = []
    for dataset in datasets:
        cfg = make_run_config(profile, "full", dataset, data_root, **overrides)
        samples = samples_for(cfg)
        subjects = sorted({s.subject for s in samples})
        for k, subject in enumerate(subjects, start=1):
            n = sum(s.subject == subject for s in samples)
            rows.append({"data": ours_label(dataset), "fold": k, "test subject": subject,
                         "test clips": n, "training clips": len(samples) - n})
    return pd.DataFrame(rows).set_index(["data", "fold"])


def describe_folds(datasets: Iterable[str], profile: str, data_root: dict | None = None,
                   **overrides) -> str:
    """Why the fold count can differ from the subject count the paper gives: LOSO needs a subject
    with at least one clip to test, and the coding sheets list clips for fewer subjects than some
    data sets recorded."""
    described = load_paper_results()["datasets"]
    lines = []
    for dataset in datasets:
        base = base_dataset(dataset)
        paper_subjects = described[base]["subjects"]
        sheet_subjects = sheet_stats(base)["n_subjects"]
        cfg = make_run_config(profile, "full", dataset, data_root, **overrides)
        folds = len({s.subject for s in samples_for(cfg)})
        line = (f"**{ours_label(dataset)}**: {folds} LOSO folds. The paper describes "
                f"{dataset_name(base)} with {paper_subjects} subjects; its public coding sheet lists "
                f"clips for {sheet_subjects}.")
        if sheet_subjects != paper_subjects:
            line += (f" A subject without a coded clip cannot be held out, so a LOSO evaluation on "
                     f"the sheet has at most {sheet_subjects} folds (the paper does not say how many "
                     f"it ran; our reading is one fold per subject with clips).")
        if folds < sheet_subjects:
            line += f" This profile keeps only the first {folds} subjects (`n_subjects`)."
        lines.append(line)
    return "\n\n".join(lines)
