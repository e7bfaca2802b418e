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
# # Controls: each mechanism with and without its structure
#
# Each of the paper's mechanisms relies on a structure in the data. Global Dependency Attention
# (GDA) has something to learn only if AUs occur together; Patch Token Attention (PTA) can only
# pick out an AU's moving tokens if the motion lies at the AU's Table I landmarks; the text side of
# MiAUCL can only help if each AU is described by its own prompts. A gain measured where the
# structure exists says little about the mechanism unless the same comparison shows no gain where
# the structure is gone. Real data cannot be edited that way; the phantom can. This page compares
# each mechanism with its ablation twice, once on the phantom and once on a control copy of it
# that removes exactly that structure:
#
# - **GDA**: GDA against Add+MLP (Table VII) on the phantom and on its `-indep` copy, whose AU
#   labels are drawn independently of each other with the same frequency per AU: no AU tells
#   anything about another;
# - **PTA**: PTA against mean pooling of the AU's tokens (Table VI, on its Add+MLP stage) on the
#   phantom and on its `-offsite` copy, whose motion is moved away from the Table I landmarks:
#   the tokens PTA weighs no longer hold the motion;
# - **MiAUCL's text side**: the full model against no contrastive loss (Table VIII), and the same
#   model with every AU given another AU's prompts against no contrastive loss, both on the
#   phantom itself: the prompts still exist, but no longer name the AU they are paired with.
#
# Every difference is judged as on the table pages: the paired subject-bootstrap interval and
# the noise band of the full model's seed spread on the base phantom (the seed page); a
# direction is stated only outside both. The sentences are computed from the two verdicts of
# each mechanism; none is typed.

# %% tags=["parameters"]
datasets = ["phantom-casme2", "phantom-samm"]  # the base phantoms; licensed data have no control copies
profile = "quick"  # smoke | quick | paper (microau.config.PROFILES)
data_root = None  # real data only: {"casme2": "/data/CASME2", "samm": "/data/SAMM"}
device = "cpu"  # or "cuda"
runs_dir = None  # None: $MICROAU_RUNS, else <repository>/runs; relative paths from the repository
train_missing = True  # train the runs not stored yet (microau reproduce trains first, then reads)
overrides = {}  # Config fields set on the command line of microau reproduce (--epochs, --pretrained, ...)

# %%
from microau import report

page = report.open_page("controls", globals())

# %% [markdown]
# ## Effects with the structure and without it
#
# For each mechanism, its row minus its reference row in mean F1, where the structure exists
# and where the control removes it. A mechanism that uses the structure helps in the first
# setting and not in the second; one that helps equally in both owes its gain to something else
# (more parameters, another training signal), and the sentence says so.

# %%
report.show_control_effects(page)

# %% [markdown]
# ```{glue:figure} controls_effects
# :name: fig-controls-effects
#
# Each mechanism's effect on mean F1 (row minus reference) with its structure (filled dots) and
# without it (open squares), with the paired subject-bootstrap intervals; the grey band is the
# noise band of the full model on that phantom. Look at whether the filled dot lies right of the
# band and the open square inside it.
# ```

# %% [markdown]
# ## The mechanisms' own statistics with and without the structure
#
# The ground-truth checks of the figure pages, on the runs above: the excess of PTA's weight on
# the AU's peak tokens over uniform weights, the excess of GDA's dependency weights on the active
# AUs over chance, and how much more alike the AU features of two clips with the same label are
# than those of two clips with different labels. Each is judged against the spread of the same
# statistic over the full model's seed runs on the base phantom. Where the structure is removed,
# the statistic tells whether the mechanism still finds something to lean on.

# %%
report.show_mechanism_statistics(page)

# %% [markdown]
# ## Each check against a deliberately broken model
#
# A check that also passes a broken model proves nothing. For every ground-truth check, a copy
# of the full model's outputs is broken in exactly the respect the check looks at, everything
# else kept: PTA's weights shuffled across the AU's landmarks, the dependency weights shuffled
# across AUs, the AU features shuffled across the clips of each fold (labels kept). Each check
# should pass the model and fail its broken copy; any that passes the broken copy is flagged as
# a defect below.

# %%
report.show_broken_models(page)

# %% [markdown]
# ## How this page was computed

# %%
page.footer()
