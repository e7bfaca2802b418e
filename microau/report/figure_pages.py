"""The figures of the figure pages (Fig. 3, 5, 6, 7 and the data chapter), built from a page's runs
or data in one call each, so that the notebooks hold only calls and prose. Each function returns
what its page glues (a matplotlib figure) and what it states next to it."""
from __future__ import annotations

import pandas as pd
from IPython.display import Markdown

from .. import figures
from ..aus import AU_LANDMARKS, DATASET_AUS
from .data_overview import cooccurrence_counts, example_clip_id
from .figure_data import (clip_ids, dependency_by_active_au, example_aus, pick_clips_with,
                          pick_similarity_samples, prepared_clips, pta_token_map, separation_scores,
                          similarity_by_pair, token_grid, tsne_embedding)
from .labels import ours_label
from .statistics import cosine_matrix


def _configs(page) -> list:
    from ..runs import make_run_config

    return [make_run_config(page.profile, "full", d, page.data_root, page.device, **page.overrides)
            for d in page.datasets]


def au_regions(page):
    """Fig. 3: Table I's landmarks and the tokens Eq. 1 selects, on the first clip of the first
    data set; returns (figure, note, Table I's tokens on that clip)."""
    from ..data.registry import samples_for
    from .data_overview import table1_tokens

    cfg = _configs(page)[0]
    clip_id = samples_for(cfg)[0].id
    clip = prepared_clips(cfg, [clip_id])[clip_id]
    grid = token_grid(cfg)
    aus = tuple(sorted(AU_LANDMARKS))
    fig = figures.au_regions(clip.magnified, clip.flow_image, clip.landmarks, aus, grid)
    note = Markdown(f"Clip `{clip_id}` of *{cfg.dataset}*; visual tower `{cfg.clip_model}` with a "
                    f"{grid[0]} × {grid[1]} patch grid.")
    return fig, note, table1_tokens(clip.landmarks, clip.flow_image.shape[0], grid, aus)


def pta_heatmaps(page, variant: str = "full"):
    """Fig. 5, left: PTA weights on clips where an example AU is active, most confident first;
    returns (figure or a sentence when no clip qualifies, how many clips were drawn)."""
    examples, grid = [], None
    for dataset in page.datasets:
        result = page.runs[variant, dataset]
        arrays = result.arrays()
        ids = clip_ids(result)
        aus = tuple(result.meta["aus"])
        grid = token_grid(result.config)
        for au in example_aus(aus):
            picks = pick_clips_with(result, au, k=1)
            clips = prepared_clips(result.config, [ids[i] for i in picks])
            for i in picks:
                clip, n = clips[ids[i]], aus.index(au)
                weights = arrays["token_weights"][i, n, : len(AU_LANDMARKS[au])]
                heat = pta_token_map(weights, clip.landmarks, au, clip.flow_image.shape[0], grid)
                examples.append({"image": clip.magnified, "landmarks": clip.landmarks, "heat": heat, "au": au,
                                 "title": f"{dataset}\nAU{au} active · p = {arrays['probs'][i, n]:.2f}"})
    if not examples:
        return "no clip with an example AU active in these data", Markdown("No example clip drawn.")
    return figures.pta_heatmaps(examples, grid), Markdown(f"{len(examples)} example clip(s) drawn.")


def dependency_heatmaps(page, variant: str = "full"):
    """Fig. 5, right: mean W_d over the clips where each AU is active, next to the co-occurrence."""
    panels = []
    for dataset in page.datasets:
        w, c = dependency_by_active_au(page.runs[variant, dataset])
        panels += [(f"mean W_d · {dataset}", w, None), (f"share coding the AU · {dataset}", c, 1.0)]
    return figures.dependency_heatmaps(panels)


def similarity_matrices(page, reference: str = "table8/miaucl"):
    """Fig. 6: cosine similarity of one AU's features of four clips (labels 1, 0, 1, 0) under each
    loss the page shows; returns (figure, which clips, mean similarity by pair type)."""
    panels, pairs, notes = [], [], []
    for dataset in page.datasets:
        ref = page.runs[reference, dataset]
        aus = tuple(ref.meta["aus"])
        au = example_aus(aus, (1,))[0]
        n = aus.index(au)
        idx, where = pick_similarity_samples(ref, au)
        ids = clip_ids(ref)
        notes.append(f"*{dataset}*, AU{au}: clips " + ", ".join(f"`{ids[i]}`" for i in idx) + f" ({where}).")
        for name, variant in page.manifest.figure_variants.items():
            run = page.runs[variant, dataset]
            arrays = run.arrays()
            panels.append((f"{name} · {dataset} · AU{au}", cosine_matrix(arrays["au_features"][idx, n]),
                           arrays["labels"][idx, n].tolist()))
            pairs.append({"data": ours_label(dataset), "loss": name, "AU": f"AU{au}",
                          **similarity_by_pair(run, au)})
    return (figures.similarity_matrices(panels), Markdown("Clips drawn: " + " ".join(notes)),
            pd.DataFrame(pairs).set_index(["data", "loss", "AU"]))


def tsne(page):
    """Fig. 7: t-SNE of one AU's features (AU1, else the first AU) for each model of the page;
    returns (figure, the silhouette and separation of the active/inactive split per model)."""
    panels, scores, au = [], [], None
    for dataset in page.datasets:
        for name, variant in page.manifest.figure_variants.items():
            result = page.runs[variant, dataset]
            aus = tuple(result.meta["aus"])
            au = example_aus(aus, (1,))[0]
            arrays = result.arrays()
            feats, labels = arrays["au_features"][:, aus.index(au)], arrays["labels"][:, aus.index(au)]
            panels.append((f"{name} · {dataset} · AU{au}", tsne_embedding(feats), labels))
            scores.append({"data": ours_label(dataset), "model": name, "AU": f"AU{au}",
                           **separation_scores(feats, labels)})
    return figures.tsne_panels(panels, au), pd.DataFrame(scores).set_index(["data", "model", "AU"])


def cooccurrence(page):
    """The data chapter: AU co-occurrence counts of each data set's clips."""
    from ..data.registry import samples_for

    panels = [(f"{cfg.dataset}: clips coding both AUs",
               cooccurrence_counts(samples_for(cfg), DATASET_AUS[cfg.base_dataset])) for cfg in _configs(page)]
    return figures.cooccurrence(panels)


def prepared_clip(page):
    """The data chapter: one prepared clip per data set (the first with the most active AUs);
    returns (figure, one sentence per clip)."""
    from ..data.registry import samples_for

    clips, lines = [], []
    for cfg in _configs(page):
        clip_id = example_clip_id(samples_for(cfg), DATASET_AUS[cfg.base_dataset])
        clip = prepared_clips(cfg, [clip_id])[clip_id]
        active = ", ".join(f"AU{a}" for a in sorted(clip.sample.aus)) or "none"
        clips.append((clip, f"{cfg.dataset}\n{clip_id}"))
        lines.append(f"**{cfg.dataset}**, clip `{clip_id}` ({clip.sample.emotion}); coded AUs: {active}.")
    return figures.prepared_clip_panels(clips), Markdown("\n\n".join(lines))


def amplitudes(page) -> list:
    """The data chapter: per data set, the phantom's AU motion amplitudes (px) per coded AU, or a
    sentence for real data (no motion ground truth)."""
    from .data_overview import phantom_amplitudes
    from .tables import styled

    out = []
    for cfg in _configs(page):
        amps = phantom_amplitudes(cfg)
        out.append(Markdown(f"**{cfg.dataset}** is real data: no motion ground truth.") if amps is None
                   else styled(amps, caption=f"{cfg.dataset}: AU motion amplitude (px) per coded AU"))
    return out
