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
# # Table IX: comparison with published methods
#
# The paper compares Micro-AU CLIP with eight published AU detectors on CASME II and SAMM. We
# cannot re-run those methods: their rows are copied from the paper (through
# `microau/paper_results.yaml`) and labelled `paper`. What we can add is one row: the F1 of our
# full model (variant `full`) on the data this page was built with, in columns labelled `ours`.

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

page = report.open_page("table9_sota", globals())

# %% [markdown]
# ## The paper's rows and ours
#
# Empty cells (—) mean "not reported": the paper prints N/A for methods without a SAMM score, and
# our columns exist only for our own row.

# %%
page.table()

# %% [markdown]
# ```{glue:figure} table9_figure
# :name: fig-table9-bars
#
# The paper's F1 per method (grey bars; the paper's own model darker) and, dashed, our full
# model's F1 on the data set it imitates or is. In the paper Micro-AU CLIP's bar is the highest
# on both data sets. A dashed line from the phantom is not a score on CASME II or SAMM: it shows
# what this implementation gives on simulated data, not where it would rank.
# ```

# %% [markdown]
# ## Reading the comparison
#
# The published numbers come from different papers, preprocessing pipelines and, for some,
# different AU subsets; the paper collects them as printed. Our number comes from this
# implementation on the data named in its column.

# %%
page.sentences()

# %% [markdown]
# ## Per AU
#
# F1 and accuracy of every AU for the runs this page shows (the paper prints only the means).

# %%
page.per_au()

# %% [markdown]
# ## How this page was computed

# %%
page.footer()
