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
# Eq. 2-3), all with the Add+MLP global module (variants `table6/meanpool`, `table6/maxpool`,
# `table6/pta`).

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

from microau import report
from microau.runs import load_page_runs
from microau.paper import paper_table

table = paper_table("table6")
runs = load_page_runs("table6_pta", datasets, profile, data_root, device, runs_dir, train_missing, overrides)

# %% [markdown]
# ## Paper and ours, side by side

# %%
long = report.table_page(table.id, runs, "pooling", figure="bars")

# %% [markdown]
# ```{glue:figure} table6_figure
# :name: fig-table6-bars
#
# F1 of mean pooling, max pooling and PTA: the paper (grey) and ours (coloured, with one
# resampling standard error).
# ```

# %% [markdown]
# ## Where they agree and where they differ
#
# The paper ranks PTA first and mean pooling last on both data sets. On the phantom each AU's
# motion is a smooth displacement centred on some of its landmarks, so the tokens of a region do
# not carry equal evidence, which is the situation in which a learned weighting can help; whether
# it does at this training budget is what the computed sentences report.

# %%
display(Markdown(report.describe_comparison(long, runs)))
