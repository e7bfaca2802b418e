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
from IPython.display import Markdown, display
from myst_nb import glue

from microau import report

page = report.open_page("fig7_tsne", globals())
figure, scores = report.figure_pages.tsne(page)
glue("fig7_tsne", figure, display=False)

# %% [markdown]
# ```{glue:figure} fig7_tsne
# :name: fig-fig7-tsne
#
# t-SNE of one AU's visual features (all clips, each from the LOSO fold that tested it), red:
# AU active, grey: inactive. One row per data set; columns: without LSI, without GSD, full model.
# In the paper's Fig. 7 the red and grey points mix most without LSI and form the cleanest groups
# for the full model; look at whether the red points gather apart from the grey ones, and in which
# column most.
# ```

# %% [markdown]
# ## Separation in feature space
#
# t-SNE layouts change with the random seed and the perplexity, so the separation is also
# measured in the original feature space, and each difference between two models is gated by
# the paired interval over LOSO folds and the seed spread.

# %%
display(report.styled(scores, caption="Separation of active and inactive clips in feature space"))
display(Markdown(report.describe_separation_gated(
    page.runs, [("full", "table2/gsd_only"), ("full", "table2/lsi_only")], report.page.row_labels(page.name))))

# %% [markdown]
# Features of different clips come from different LOSO folds (different trained models), as a
# LOSO evaluation gives them; the paper does not say how it pooled folds for its plot.
#
# ## Per AU
#
# F1 and accuracy of every AU for the runs this page shows (the paper prints only the means).

# %%
page.per_au()

# %% [markdown]
# ## How this page was computed

# %%
page.footer()
