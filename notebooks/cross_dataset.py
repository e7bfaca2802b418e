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
# # Across data sets
#
# The paper trains and tests within one data set at a time. Labs rarely hold only CASME II and
# SAMM, and a detector that only works on the set it was trained on is of limited use. This page
# evaluates the full model, and the region-flow baseline on the same clips and folds, across the
# data sets named by its `datasets` parameter (by default the two phantoms; with `data_root`, any
# of CASME II, SAMM, CAS(ME)^3, CASME, 4DME and MMEW, and SMIC as a test set for label-free
# emotion recognition only):
#
# - **LOSO over the composite**: one fold per subject of every set, subject ids prefixed by their
#   set (CASME and CASME II both have a subject "sub01");
# - **each set left out**: one fold per set, trained on the others and tested on it; with two sets
#   these are the two directions of "train on one, test on the other".
#
# Every fold scores the AUs that every AU-coded set scores. Scores are given per tested set and
# pooled, each with a subject-bootstrap interval; the model and the baseline are compared per set
# with the paired subject bootstrap of the noise page.

# %% tags=["parameters"]
datasets = ["phantom-casme2", "phantom-samm"]  # our data: phantom-*, or real sets with data_root
profile = "quick"  # smoke | quick | paper (microau.config.PROFILES)
data_root = None  # real data only: {"casme2": "/data/CASME2", "casme3": "/data/CASME3", ...}
device = "cpu"  # or "cuda"
runs_dir = None  # None: $MICROAU_RUNS, else <repository>/runs; relative paths from the repository
train_missing = True  # train the runs not stored yet (microau reproduce trains first, then reads)
overrides = {}  # Config fields set on the command line of microau reproduce (--epochs, --pretrained, ...)

# %%
from microau import report

page = report.open_page("cross_dataset", globals())

# %% [markdown]
# ## The AUs the sets share
#
# Each set codes its own AUs, spelled its own way. Harmonising keeps every coded AU without its
# side or position prefix (laterality stays in each sample's record) and compares the sets on the
# cross-set list of the Oulu benchmark library. The table gives, for each AU of that list, the
# clips of each set that code it; a star marks the AUs a run on that set scores.

# %%
report.show_harmonisation(page)

# %% [markdown]
# ## Scores per set

# %%
report.show_cross_scores(page)

# %% [markdown]
# ```{glue:figure} cross_set_bars
# :name: fig-cross-set-bars
#
# Mean F1 over the shared AUs per tested set and pooled: the full model and the region baseline on
# the same clips and folds, each with its subject-bootstrap interval. Left: LOSO over all sets;
# right: each set tested by a model trained on the others. Look at how far a set's score falls
# when no subject of that set was seen in training.
# ```

# %% [markdown]
# ## The model against the baseline, per set
#
# The difference of mean F1 on the same clips, with the paired subject-bootstrap interval. No seed
# spread is measured for these runs, so a direction is stated when the interval excludes zero,
# and the sentence says that the seed spread was not measured.

# %%
report.show_cross_against_baseline(page)

# %% [markdown]
# ## How this page was computed

# %%
page.footer()
