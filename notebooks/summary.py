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
# # Micro-AU CLIP, reproduced
#
# This book is the companion of *Micro-AU CLIP: Fine-Grained Contrastive Learning from Local
# Independence to Global Dependency for Micro-Expression Action Unit Detection* (Wei et al.). It
# holds an implementation of the method (the `microau` Python package), the leave-one-subject-out
# (LOSO) protocol the paper evaluates with, and notebooks that regenerate each table and figure.
# Every number on this page is computed from the runs when the book is built.

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

page = report.open_page("summary", globals(), show_opening=False)
pages, tallies, runs = report.summary.book_pages(page)

# %% [markdown] tags=["needs-output"]
# ## What the book found

# %%
display(Markdown(report.summary.found_sentence(tallies)))
display(report.styled(pages, caption="The paper's tables and figures in this book"))
glue("summary_verdicts", figures.verdict_bars(report.summary.verdict_counts(tallies)), display=False)

# %% [markdown] tags=["needs-output"]
# Each page's verdicts count every row the paper compares with its method (for Table X, the
# model with GDA against the one without), judged on our data. *Holds*: ours goes the paper's
# way, outside both the paired subject-bootstrap interval and the seed band; *reversed*: ours
# goes the other way, outside both; *within noise*: neither; *not judged*: no seed spread was
# measured. The figures' checks against the phantom's ground truth are stated on their pages.

# %% [markdown] tags=["needs-output"]
# ```{glue:figure} summary_verdicts
# :name: fig-summary-verdicts
#
# The same counts per table: green, the paper's comparison holds on our data; grey, within
# noise; red, reversed; white, not judged (no seed spread measured). A table whose bar is mostly
# grey says that our runs cannot tell its rows apart, not that the paper is wrong.
# ```

# %% [markdown] tags=["needs-output"]
# ## Where the numbers come from
#
# Two kinds of numbers appear side by side and are always labelled: **paper**, the values printed
# in the article, stored once in `microau/paper_results.yaml` with their table and row; and
# **ours**, labelled with the data they came from: **phantom** (the simulated data set that ships
# with the package, used whenever the licensed data are not available) or **CASME II** / **SAMM**
# when the book is rebuilt on a licensed copy. Numbers on the phantom say whether the code does
# what the paper describes and how the ablations behave on data whose ground truth is known; they
# are not estimates of the paper's numbers.

# %%
display(Markdown(report.summary.provenance_markdown(page, runs)))

# %% [markdown] tags=["needs-output"]
# ## What was checked, and how exactly
#
# Some of the paper's statements can be checked exactly, by executing the equations; the rest are
# measured on our data and judged against the measured noise ({doc}`seed_spread`). The
# {doc}`../method` chapter gives each equation with the function that implements it, and the
# {doc}`findings` chapter every point where the text leaves the computation open.

# %%
display(report.styled(report.summary.checked_exactly(page, tallies, runs), caption="Checked exactly, and measured"))

# %% [markdown]
# ## Reading on
#
# - {doc}`../data`: CASME II, SAMM and the phantom that stands in for them, and how a clip is
#   prepared ({doc}`data_overview` shows the data this copy used).
# - {doc}`../method`: the method equation by equation, next to the code.
# - {doc}`../reproducing`: how each table and figure is regenerated; one page per table and figure
#   follows it, each opening with the paper's claim, our data and the verdict.
# - {doc}`findings`: the claims judged together, the readings of what the text leaves open, and
#   the run-to-run noise ({doc}`seed_spread`).
# - {doc}`../other_datasets`: beyond the paper, the other data sets the package reads and the
#   model evaluated across data sets ({doc}`cross_dataset`).
# - {doc}`../performance`: how long it takes, and on what.
# - {doc}`../implementation_notes` and {doc}`../when_things_go_wrong`.
#
# ## On your own CASME II or SAMM
#
# With a licensed copy of the data and CLIP's weights on a GPU node (no network needed once the
# weights are on disk), check what is missing, then reproduce every page on the real data:
#
# ```bash
# microau doctor --profile paper --root casme2=/data/CASME2 \
#     --pretrained /models/ViT-B-32-openai.pt
# microau reproduce --profile paper --device cuda \
#     --datasets casme2 samm \
#     --root casme2=/data/CASME2 --root samm=/data/SAMM \
#     --pretrained /models/ViT-B-32-openai.pt
# ```
#
# The numbers are then labelled CASME II and SAMM next to the paper's. {doc}`../own_data` goes
# through it step by step, including the learned magnifier and applying a trained model to your
# own clips ({doc}`predict_demo`).
#
# ## How to cite
#
# Cite the paper for the method and its numbers, and this software for anything computed with it,
# saying which data the numbers come from (the phantom or a licensed copy). BibTeX entries for
# both, and the commit to cite with your numbers, are on the {doc}`../citing` page (and in
# `CITATION.cff`).

# %%
display(Markdown(report.summary.citation()))

# %% [markdown] tags=["needs-output"]
# ## How this page was computed

# %%
page.footer()
