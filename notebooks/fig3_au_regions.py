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
# # Fig. 3 and Table I: AU regions and their patch tokens
#
# Table I assigns each AU a group of the 68 dlib landmarks. Eq. 1 maps every landmark, found on
# the apex frame, to the visual-tower patch token it falls in, so each AU gets its own set of
# tokens. The figure draws both steps on a prepared clip of the first data set.

# %% tags=["parameters"]
datasets = ["phantom-casme2", "phantom-samm"]  # our data: phantom-*, or casme2/samm with data_root
profile = "quick"  # smoke | quick | paper (microau.config.PROFILES)
data_root = None  # real data only: {"casme2": "/data/CASME2", "samm": "/data/SAMM"}
device = "cpu"  # or "cuda"
runs_dir = None  # None: $MICROAU_RUNS, else <repository>/runs; relative paths from the repository
train_missing = True  # train the runs not stored yet (microau reproduce trains first, then reads)
overrides = {}  # Config fields set on the command line of microau reproduce (--epochs, --pretrained, ...)

# %%
from IPython.display import display
from myst_nb import glue

from microau import report

page = report.open_page("fig3_au_regions", globals())
figure, note, tokens = report.figure_pages.au_regions(page)
glue("fig3_regions", figure, display=False)
display(note)

# %% [markdown]
# ```{glue:figure} fig3_regions
# :name: fig-fig3-regions
#
# Left: the landmarks of Table I on the magnified apex frame, one colour per landmark group
# (AU1, AU2 and AU4 share the brow landmarks; AU12 and AU15 share the lip corners). Right: the
# flow image with the patch-token grid; shaded cells are the tokens Eq. 1 picks for each group.
# The paper's Fig. 3 draws the same regions on a CASME II face; look at whether each group's
# shaded cells sit over the brows, eyes, lip corners and chin as the paper's regions do.
# ```

# %% [markdown]
# ## Table I on this clip
#
# Several landmarks of a group often fall into the same token; the model then sees that token
# several times, which PTA can weigh (implementation notes, Eq. 1).

# %%
display(report.styled(tokens, caption="Table I landmark groups and the tokens they select on this clip"))

# %% [markdown]
# ## How this page was computed

# %%
page.footer()
