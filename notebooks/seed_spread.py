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
# # Run-to-run noise
#
# The paper reports one training run per row (seed 1). On a few hundred clips split into a few
# dozen LOSO folds, another seed can move a mean F1 by about as much as an ablation does, so no
# difference between two rows means anything until this noise is measured. This page measures it
# in two ways, and every computed sentence in the book that states a direction, an ordering or an
# agreement uses both:
#
# - **noise grid**: the same configuration trained again and again. The full model is trained on
#   every data set on several *backbone draws* (the phantom-pretrained backbone pretrained anew
#   from another seed: rounding differences between machines move a pretraining about as far as
#   another seed does) times several fine-tuning seeds; the rows of Tables II and VIII on the last
#   data set with several seeds on the first draw, to keep the CPU budget;
# - **paired subject-level bootstrap**: for one pair of runs on the same clips, the LOSO subjects
#   are resampled with replacement, the same resample for both runs, and the difference of their
#   mean F1 is recomputed (`microau.noise.paired_bootstrap_f1`).
#
# A difference is called a direction only when its paired interval excludes zero and it exceeds
# the seed band, the spread that two single-seed runs of one configuration show
# (`microau.noise.seed_band`); otherwise the sentence says "within noise".

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

page = report.open_page("seed_spread", globals())

# %% [markdown]
# ## The spread over seeds
#
# Mean F1 (over AUs, on the concatenated predictions of all folds) of each configuration, over
# the seeds it was trained with.

# %%
display(report.styled(report.seed_spread_table(page.runs), caption="Mean F1 over seeds"))
glue("seed_spread_strip", figures.seed_strip(page.runs), display=False)

# %% [markdown]
# ```{glue:figure} seed_spread_strip
# :name: fig-seed-spread
#
# Mean F1 of each configuration, one dot per seed, with the mean (bar). Look at how far the dots
# of one configuration lie apart: that distance is the noise any difference between two rows must
# exceed. The paper has no such figure; it reports one seed.
# ```

# %% [markdown]
# ## Where the noise comes from
#
# The variance of the full model's mean F1, split by source: between backbone draws, between
# fine-tuning seeds on one backbone (nested random effects: our reading of the grid, the
# alternative being a crossed design), and between resamples of the recorded subjects (the
# subject bootstrap of one run). The first two make up the noise band; the third is what the
# paired interval of each comparison accounts for.

# %%
display(report.styled(report.noise_components_table(page.runs), caption="Variance of the full model's mean F1, by source"))
display(Markdown(report.describe_noise_components(page.runs)))

# %% [markdown]
# ## Ablation differences against the noise
#
# For each row of Tables II and VIII, its difference from the table's reference row (the paper's
# proposed model), at seed 1: the paired subject-bootstrap interval, the seed band measured above,
# and the verdict. The same verdicts decide the sentences on the table pages.

# %%
display(report.styled(report.seed_gated_differences(page.runs), caption="Row minus reference, mean F1 (seed 1)"))
display(Markdown(report.describe_seed_spread(page.runs)))

# %% [markdown]
# ## How this page was computed

# %%
page.footer()
