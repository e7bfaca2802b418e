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
# # Fig. 6: feature similarity under local OrigCL and MiAUCL
#
# Local OrigCL treats only the diagonal of the batch similarity matrix as a match, so two
# different clips with the same AU label are pushed apart; MiAUCL (Eq. 10) counts them as a
# match. The paper shows the cosine similarity of the AU1 visual features of four clips with AU1
# labels 1, 0, 1, 0 under both losses. We do the same (with AU2 on a data set without AU1), and
# add the mean similarity over all pairs of clips tested in the same LOSO fold, which does not
# depend on which four clips are drawn.

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

page = report.open_page("fig6_similarity", globals())
figure, note, pairs = report.figure_pages.similarity_matrices(page)
glue("fig6_similarity", figure, display=False)
display(note)

# %% [markdown]
# ```{glue:figure} fig6_similarity
# :name: fig-fig6-similarity
#
# Cosine similarity of the visual features of four clips for one AU; the tick labels give each
# clip's label for that AU in brackets. Left: local OrigCL; right: MiAUCL. In the paper's Fig. 6
# the two clips with label 1 are more alike under MiAUCL than under local OrigCL, and a label-1
# clip is less alike a label-0 clip; look at the cells that pair equal labels against those that
# pair different ones.
# ```

# %% [markdown]
# ## Over all pairs
#
# Mean cosine similarity of the AU's visual features over all pairs of clips tested in the same
# fold (so both features come from the same model), by the pair's labels.

# %%
display(report.styled(pairs, caption="Mean cosine similarity by pair type"))
for name, variant in page.manifest.figure_variants.items():
    display(Markdown(report.describe_mechanisms(page.runs, variant, ("similarity",), {variant: name})))

# %% [markdown]
# The paper reads its Fig. 6 as MiAUCL making a positive and a negative clip less similar than
# local OrigCL does. The lines above give the same quantity for our runs; a positive gap that is
# larger under MiAUCL than under local OrigCL agrees with the paper. Averages over few clips (the
# smoke profile) are noisy.
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
