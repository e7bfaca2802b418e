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
# # Fig. 5: where the model looks
#
# Two kinds of weights of the full model: PTA's weights over the patch tokens of an AU region
# (Eq. 2), drawn on the face, and GDA's dependency weights $W_d$ over the AUs (Eq. 5), drawn as
# an AU × AU map. Each clip's weights come from the LOSO fold that tested it, so every clip is
# seen by a model that never trained on its subject.

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

page = report.open_page("fig5_heatmaps", globals())

# %% [markdown]
# ## PTA weights on the face
#
# For each data set, clips where an example AU is coded active (the paper shows AU1 and AU17;
# a data set without them uses its first and last AU), most confident first. The heat of a token
# is the sum of the PTA weights of the AU's landmarks that fall in it (cyan dots).

# %%
figure, note = report.figure_pages.pta_heatmaps(page)
glue("fig5_pta", figure, display=False)
display(note)

# %% [markdown]
# ```{glue:figure} fig5_pta
# :name: fig-fig5-pta
#
# PTA weights of the full model on clips where the named AU is active, over the magnified apex
# frame with the patch grid; p is the model's probability that the AU is active. The paper's
# Fig. 5 shows the weight gathered on the active AU's own region (the brows for AU1, the chin for
# AU17); look at whether ours is bright on a few tokens of that region or spread evenly over all
# of them, which is what a model that has not learnt to attend gives.
# ```

# %% [markdown]
# ## GDA dependency weights
#
# Rows: clips where an AU is coded active. Left: the mean dependency weights $W_d$ the model
# gives each AU on those clips. Right: how often each AU is coded on the same clips. GDLoss
# (Eq. 8) pulls $W_d$ towards the label vector, so the two should look alike where it worked.

# %%
glue("fig5_gda", report.figure_pages.dependency_heatmaps(page), display=False)

# %% [markdown]
# ```{glue:figure} fig5_gda
# :name: fig-fig5-gda
#
# GDA dependency weights averaged over the clips where each AU (row) is active, next to the label
# co-occurrence on the same clips. The paper's Fig. 5 shows $W_d$ peaking on the AUs that occur
# together with the row's AU; look at whether the left map repeats the pattern of the right one
# or is flat.
# ```
#
# On the phantom each AU's motion is placed on its landmarks by construction, so a model that has
# learnt the task should attend there; with few epochs and a small CLIP pretrained only on the
# phantom corpus the weights may still be close to uniform, which the heat maps then show as
# evenly lit tokens.
#
# ## Against the phantom's ground truth
#
# The phantom knows where each AU moves in each clip (its motion field, anchored on the
# landmarks) and which AUs its generator set together. The checks below measure, on the clips
# each fold held out: how much of PTA's attention lies on the AU's truly moving tokens, against
# what uniform weights would give; whether it leans towards the tokens that move most; whether
# $W_d$ puts more mass on the clip's active AUs than chance; and whether $W_d$ follows the
# generator's co-occurrence. Each sentence states a claim as holding only when it is outside the
# subject-bootstrap interval and, where measured, the seed spread.

# %%
display(Markdown(report.describe_mechanisms(
    page.runs, "full", ("pta", "pta_motion", "gda_active", "gda_cooccurrence"), {"full": "full model"})))

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
