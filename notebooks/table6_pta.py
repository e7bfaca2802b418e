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
# # Table VI: pooling the patch tokens of an AU region
#
# LSI collects the patch tokens under each AU's landmarks (Table I, Eq. 1) and pools them into
# one AU feature. The paper compares mean pooling, max pooling and Patch Token Attention (PTA,
# Eq. 2-3).

# %% tags=["parameters"]
datasets = ["phantom-casme2", "phantom-samm"]  # our data: phantom-*, or casme2/samm with data_root
profile = "quick"  # smoke | quick | paper (microau.config.PROFILES)
data_root = None  # real data only: {"casme2": "/data/CASME2", "samm": "/data/SAMM"}
device = "cpu"  # or "cuda"
runs_dir = None  # None: $MICROAU_RUNS, else <repository>/runs; relative paths from the repository
train_missing = True  # train the runs not stored yet (microau reproduce trains first, then reads)
overrides = {}  # Config fields set on the command line of microau reproduce (--epochs, --pretrained, ...)

# %%
from microau import report

page = report.open_page("table6_pta", globals())

# %% [markdown]
# ## Paper and ours, side by side

# %%
page.table()

# %% [markdown]
# ```{glue:figure} table6_figure
# :name: fig-table6-bars
#
# F1 of mean pooling, max pooling and PTA, one panel per data set of ours. Grey: the paper;
# coloured: ours, with one resampling standard error. The paper's PTA bar is the highest and mean
# pooling the lowest on both data sets; look at whether ours are ordered the same way.
# ```

# %% [markdown]
# ## Where they agree and where they differ
#
# The paper ranks PTA first and mean pooling last on both data sets. On the phantom each AU's
# motion is a smooth displacement centred on some of its landmarks, so the tokens of a region do
# not carry equal evidence, which is the situation in which a learned weighting can help; whether
# it does at this training budget is what the computed sentences report.

# %%
page.sentences()

# %% [markdown]
# All three rows use the Add+MLP global module (variants `table6/meanpool`, `table6/maxpool`,
# `table6/pta`).
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
