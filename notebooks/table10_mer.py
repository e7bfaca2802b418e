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
# # Table X: emotion recognition without emotion labels
#
# Eq. 13 turns the AU detector into a three-class emotion recogniser (positive, negative,
# surprise) without training on emotion labels: each emotion is described by which AUs it
# activates (`microau.aus.EMOTION_AUS`), and a clip gets the emotion whose prompts are most
# similar, summed over AUs, to its visual AU features.

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

page = report.open_page("table10_mer", globals())

# %% [markdown]
# ## The paper's rows and ours
#
# The paper compares this zero-shot use of Micro-AU CLIP, with and without GDA, with supervised
# and weakly supervised recognisers. Our rows are `table10/wo_gda` (Add+MLP) and `table10/full`.
# The paper's caption calls its score F1 without naming the average; we show our UF1 (macro F1)
# next to it, then UAR, WF1 and accuracy, all on the clips that have a three-class label, and
# what always answering the most frequent class gives on the same clips.

# %%
page.table()

# %% [markdown]
# ```{glue:figure} table10_figure
# :name: fig-table10-bars
#
# Our label-free MER scores for the two Micro-AU CLIP rows (coloured bars) and always answering
# the most frequent class (grey bars), with the paper's F1 for the same rows (dashed lines, in the
# colour of the row). In the paper the row with GDA scores above the row without; look at
# whether our coloured bars clear the grey ones at all before reading their order.
# ```

# %% [markdown]
# ## Where they agree and where they differ
#
# Label-free MER inherits everything from the AU features and the prompt features: if the text
# tower has not learnt to separate a prompt from its negation, the emotion scores are close to
# each other and the prediction is near chance. The phantom's emotions are tied to its AU labels
# exactly as in the real coding sheets, including the "others"/"other" clips that MER leaves out.
# The sentences below compare our scores with guessing on the same clips.

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
