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
# # The data: CASME II, SAMM and the phantom
#
# The paper evaluates on CASME II and SAMM, two licensed micro-expression data sets. This book
# was built on the data named by its `datasets` parameter: by default the *phantom*, a simulated
# data set written in CASME II's and SAMM's on-disk layouts and read by the same loaders (see
# the pages before this one). This page shows what the data look like to the model.

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

from microau import figures, report

page = report.open_page("data_overview", globals())
selection = (page.datasets, page.profile, page.data_root)

# %% [markdown]
# ## Size and AUs
#
# Three descriptions side by side: the paper's (Sec. IV-A), the public coding sheet's (the label
# statistics the phantom was built from, `microau/data/me_label_stats.json`), and the data this
# book used (after the profile's subject subset, if it has one).

# %%
display(report.styled(report.dataset_overview(*selection, **overrides), caption="Data sets"))

# %% [markdown]
# ## The LOSO folds
#
# One fold per subject that has at least one clip: the fold tests that subject's clips and trains
# on everyone else's. The predictions of all folds are concatenated before any score is computed.

# %%
display(Markdown(report.describe_folds(*selection, **overrides)))
display(report.styled(report.fold_table(*selection, **overrides), caption="LOSO folds"))

# %% [markdown]
# ## How often each AU occurs

# %%
glue("data_au_shares", figures.au_frequency(report.au_shares(*selection, **overrides)), display=False)

# %% [markdown]
# ```{glue:figure} data_au_shares
# :name: fig-data-au-shares
#
# Share of clips in which each selected AU is coded: the public coding sheet (grey) and our data
# (coloured). The phantom's bars should follow the sheet's; a profile that keeps only a few
# subjects has few clips, so its shares are noisy. The paper has no such figure.
# ```

# %%
glue("data_cooc", report.figure_pages.cooccurrence(page), display=False)

# %% [markdown]
# ```{glue:figure} data_cooc
# :name: fig-data-cooc
#
# AU co-occurrence in our data: the diagonal counts the clips coding each AU, the other cells the
# clips coding both. This is the structure GDA and GDLoss are meant to exploit: look for AUs that
# are coded together far more often than apart. The paper has no such figure.
# ```

# %% [markdown]
# ## Emotions for label-free MER
#
# Table X uses three classes. Clips whose emotion falls outside them ("others", "other") are
# kept for AU detection and left out of MER.

# %%
display(report.styled(report.emotion_counts(*selection, **overrides), caption="Clips per emotion"))

# %% [markdown]
# ## One clip through the preparation
#
# Each clip is reduced to an onset and an apex frame, cropped around the face, magnified, and
# turned into an optical-flow image on which the 68 landmarks are found. The clip shown for each
# data set is the first one with the most active AUs.

# %%
figure, note = report.figure_pages.prepared_clip(page)
glue("data_clips", figure, display=False)
display(note)

# %% [markdown]
# ```{glue:figure} data_clips
# :name: fig-data-clips
#
# One prepared clip per data set: cropped onset and apex, the magnified apex, and the flow image
# the visual encoder sees, with the 68 landmarks on the last two. Look for flow at the coded
# AUs' landmarks and little elsewhere; the paper's Fig. 2 shows the same steps on a real clip.
# ```
#
# ## Ground truth of the phantom
#
# The phantom knows how far each AU moved the face. Amplitudes are in pixels of the original
# frame, before magnification; some AUs are deliberately weak, close to the noise.

# %%
for table in report.figure_pages.amplitudes(page):
    display(table)

# %% [markdown]
# ## Is the phantom learned?
#
# A region-flow baseline (`microau.baseline`: the mean flow around each of the 68 landmarks, one
# logistic regression per AU) is evaluated with the same LOSO folds on the same prepared clips as
# the full model. If the model does not reach it, the phantom is learnable but the model at this
# profile has not learned it; the sentence says so only when the difference is outside the paired
# subject-bootstrap interval and the model's seed band.

# %%
versus, said = report.model_vs_baseline(page.runs)
display(report.styled(versus, caption="Full model and region baseline, same clips and folds"))
display(Markdown(said))

# %% [markdown]
# ## How this page was computed

# %%
page.footer()
