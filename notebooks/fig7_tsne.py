# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Fig. 7: t-SNE of AU features
#
# The paper embeds the AU1 visual features of three models with t-SNE: without LSI
# (`table2/gsd_only`), without GSD (`table2/lsi_only`) and the full model, and reads the plots
# as: without LSI, active and inactive clips overlap most; the full model separates them best.
# We draw the same plots (AU2 on a data set without AU1) and add a number that does not depend on
# t-SNE's layout: the silhouette of the active/inactive split in the original feature space
# (cosine distance; 1 = perfectly separated, 0 = overlapping).

# %% tags=["parameters"]
datasets = ["phantom-casme2", "phantom-samm"]  # our data: phantom-*, or casme2/samm with data_root
profile = "quick"  # smoke | quick | paper (microau.config.PROFILES)
data_root = None  # real data only: {"casme2": "/data/CASME2", "samm": "/data/SAMM"}
device = "cpu"  # or "cuda"
runs_dir = None  # None: $MICROAU_RUNS, else <repository>/runs; relative paths from the repository
train_missing = True  # train the runs not stored yet (microau reproduce trains first, then reads)
overrides = {}  # Config fields set on the command line of microau reproduce (--epochs, --pretrained, ...)

# %%
import pandas as pd
from IPython.display import Markdown, display
from myst_nb import glue

from microau import figures, report
from microau.book.manifest import figure_variants
from microau.runs import load_page_runs

models = figure_variants("fig7_tsne")  # display name -> variant
runs = load_page_runs("fig7_tsne", datasets, profile, data_root, device, runs_dir, train_missing, overrides)

# %%
panels, scores = [], []
for dataset in datasets:
    for name, variant in models.items():
        result = runs[variant, dataset]
        aus = tuple(result.meta["aus"])
        au = report.example_aus(aus, (1,))[0]
        n = aus.index(au)
        arrays = result.arrays()
        feats, labels = arrays["au_features"][:, n], arrays["labels"][:, n]
        panels.append((f"{name} · {dataset} · AU{au}", report.tsne_embedding(feats), labels))
        scores.append({"data": report.ours_label(dataset), "model": name, "AU": f"AU{au}",
                       **report.separation_scores(feats, labels)})
glue("fig7_tsne", figures.tsne_panels(panels, au), display=False)

# %% [markdown]
# ```{glue:figure} fig7_tsne
# :name: fig-fig7-tsne
#
# t-SNE of one AU's visual features (all clips, each from the LOSO fold that tested it), red:
# AU active, grey: inactive. One row per data set; columns: without LSI, without GSD, full model.
# ```

# %%
scores = pd.DataFrame(scores).set_index(["data", "model", "AU"])
display(report.styled(scores, caption="Separation of active and inactive clips in feature space"))

names = {variant: name for name, variant in models.items()}
display(Markdown(report.describe_separation_gated(
    runs, [("full", "table2/gsd_only"), ("full", "table2/lsi_only")], names)))

# %% [markdown]
# Features of different clips come from different LOSO folds (different trained models), as a
# LOSO evaluation gives them; the paper does not say how it pooled folds for its plot. t-SNE
# layouts also change with the random seed and perplexity, which is why the silhouette is given.


# %% [markdown]
# ## Per AU
#
# F1 and accuracy of every AU for the runs this page shows (the paper prints only the means).

# %%
report.show_per_au(runs, {variant: name for name, variant in figure_variants("fig7_tsne").items()})
