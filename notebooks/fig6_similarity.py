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
import pandas as pd
from IPython.display import Markdown, display
from myst_nb import glue

from microau import figures, report
from microau.book.manifest import figure_variants
from microau.runs import load_page_runs

variants = figure_variants("fig6_similarity")  # display name -> variant
runs = load_page_runs("fig6_similarity", datasets, profile, data_root, device, runs_dir, train_missing, overrides)

# %%
panels, pairs, notes = [], [], []
for dataset in datasets:
    ref = runs["table8/miaucl", dataset]
    aus = tuple(ref.meta["aus"])
    au = report.example_aus(aus, (1,))[0]
    n = aus.index(au)
    idx, where = report.pick_similarity_samples(ref, au)
    ids = report.clip_ids(ref)
    notes.append(f"*{dataset}*, AU{au}: clips " + ", ".join(f"`{ids[i]}`" for i in idx) + f" ({where}).")
    for name, variant in variants.items():
        arrays = runs[variant, dataset].arrays()
        feats = arrays["au_features"][idx, n]
        labels = arrays["labels"][idx, n].tolist()
        panels.append((f"{name} · {dataset} · AU{au}", report.cosine_matrix(feats), labels))
        pairs.append({"data": report.ours_label(dataset), "loss": name, "AU": f"AU{au}",
                      **report.similarity_by_pair(runs[variant, dataset], au)})
glue("fig6_similarity", figures.similarity_matrices(panels), display=False)
display(Markdown("Clips drawn: " + " ".join(notes)))

# %% [markdown]
# ```{glue:figure} fig6_similarity
# :name: fig-fig6-similarity
#
# Cosine similarity of the visual features of four clips for one AU; the tick labels give each
# clip's label for that AU in brackets. Left: local OrigCL; right: MiAUCL.
# ```

# %% [markdown]
# ## Over all pairs
#
# Mean cosine similarity of the AU's visual features over all pairs of clips tested in the same
# fold (so both features come from the same model), by the pair's labels.

# %%
pairs = pd.DataFrame(pairs).set_index(["data", "loss", "AU"])
display(report.styled(pairs, caption="Mean cosine similarity by pair type"))

names = {variant: name for name, variant in variants.items()}
for variant in variants.values():
    display(Markdown(report.describe_mechanisms(runs, variant, ("similarity",), names)))

# %% [markdown]
# The paper reads its Fig. 6 as MiAUCL making a positive and a negative clip less similar than
# local OrigCL does. The lines above give the same quantity for our runs; a positive gap that is
# larger under MiAUCL than under local OrigCL agrees with the paper. Averages over few clips (the
# smoke profile) are noisy.


# %% [markdown]
# ## Per AU
#
# F1 and accuracy of every AU for the runs this page shows (the paper prints only the means).

# %%
report.show_per_au(runs, {variant: name for name, variant in figure_variants("fig6_similarity").items()})
