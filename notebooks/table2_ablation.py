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
# # Table II: local independence (LSI) and global dependency (GSD)
#
# The paper's central ablation: the model with both modules against the model without LSI and
# the model without GSD.

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

page = report.open_page("table2_ablation", globals())

# %% [markdown]
# ## Paper and ours, side by side
#
# Per data set of ours, each row of the paper's table: the paper's F1 and ACC next to ours (F1
# and ACC averaged over the data set's AUs, after concatenating the predictions of all LOSO
# folds), then each row's F1 minus the reference row's, the paper's next to ours, with our seed
# band (how far two runs of one configuration that differ only by seed can fall apart) and the
# verdict: *holds* when ours goes the paper's way outside both the paired subject-bootstrap
# interval and the seed band, *reversed* when it goes the other way outside both, *within noise*
# otherwise.

# %%
page.table()

# %% [markdown]
# ```{glue:figure} table2_figure
# :name: fig-table2-bars
#
# F1 of each row of Table II, one panel per data set of ours. Grey: the paper's value; coloured:
# ours, with one resampling standard error. Look at the order of the bars within a panel, not at
# their height: the paper's bars drop when LSI or GSD is removed, most without LSI; ours show
# whether the phantom orders the rows the same way.
# ```

# %% [markdown]
# ## Where they agree and where they differ
#
# The paper finds that removing either module lowers F1, and that removing LSI costs more than
# removing GSD. The sentences below are computed from the two columns. On the phantom the
# comparison is about the ordering only: the data are simulated, the CLIP model is small,
# pretrained on a phantom corpus rather than on web images, and trained for few epochs, so
# absolute numbers are not comparable with the paper's.

# %%
page.sentences()

# %% [markdown]
# The rows are the variants `table2/lsi_only`, `table2/gsd_only` and `table2/lsi_gsd` of
# `microau.config.VARIANTS`; the implementation notes say how "LSI ×" and "GSD ×" are realised.
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
