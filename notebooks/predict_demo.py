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
# # Applying a trained model to a clip
#
# `microau predict` applies a model trained with `microau train-final` to one onset/apex pair:
# two image files, or two frames of a video. It prepares the pair exactly as the training clips
# were prepared (face box on the onset, crop, magnification, TV-L1 flow image, 68 landmarks; the
# settings come from the checkpoint) and reports, per AU, the probability that it is active
# (Eq. 7), the active AUs, and the label-free emotion guess of Eq. 13.
#
# ```text
# microau train-final --dataset phantom-casme2 --profile quick --variant full --out model.pt
# microau predict --checkpoint model.pt --onset onset.jpg --apex apex.jpg --out result/
# microau predict --checkpoint model.pt --video clip.mp4 --onset-frame 12 --apex-frame 40 --out result/
# ```
#
# Video frames are read with OpenCV's `VideoCapture` and counted from 0 in decoding order.
# `--out` writes `report.json` and `overlay.png` (shown below). Unlike training, where a clip
# without a detectable face is kept with a centred crop, `predict` stops with an error message if
# either frame shows no face, if the frames differ in size, if a frame index is past the end of
# the video, or if the checkpoint does not fit the model its config describes.
#
# A model trained on every subject has seen every clip of its data set, so predicting one of
# those clips shows little. Here each model is trained on all subjects but one (by default the
# last), and the clips shown are that subject's, which the model has never seen.

# %% tags=["parameters"]
datasets = ["phantom-casme2", "phantom-samm"]  # one model per data set: phantom-*, or casme2/samm with data_root
profile = "quick"  # smoke | quick | paper (microau.config.PROFILES)
data_root = None  # real data only: {"casme2": "/data/CASME2", "samm": "/data/SAMM"}
device = "cpu"  # or "cuda"
runs_dir = None  # None: $MICROAU_RUNS, else <repository>/runs; checkpoints are cached in <runs_dir>/predict/
train_missing = True  # train the held-out models not cached yet (False: only read them)
overrides = {}  # Config fields set on the command line of microau reproduce (--epochs, --pretrained, ...)
checkpoint = None  # path of a `microau train-final` checkpoint to use instead (then its own data set only)
hold_out_subject = "last"  # "last" (sorted), a subject name, or None to train on every subject
n_clips = 3  # clips of the held-out subject to predict, per data set

# %%
import logging

import pandas as pd
from IPython.display import Image, Markdown, display
from myst_nb import glue

from microau import predict, report
from microau.runs import make_run_config, runs_dir as resolve_runs_dir
from microau.data.registry import is_phantom
from microau.train import final

logging.getLogger("microau").setLevel(logging.WARNING)
page = report.open_page("predict_demo", globals())
runs = resolve_runs_dir(runs_dir)
if checkpoint:
    configs = [final.checkpoint_config(checkpoint, device, data_root)]
else:
    configs = [make_run_config(profile, "full", dataset, data_root, device, **overrides) for dataset in datasets]
models = [final.held_out_model(cfg, runs, hold_out_subject, n_clips, checkpoint, train_missing) for cfg in configs]
for m in models:
    display(Markdown(m.describe()))

# %% [markdown]
# ## Predictions
#
# For each clip: the printed report of `microau predict`, then the overlay it writes. The first
# row of the overlay shows the magnified apex crop with its landmarks (red: the Table I landmarks
# of the model's AUs), the flow image the model sees, the AU probabilities and GDA's dependency
# weights $W_d$ (Eq. 5). Below, per AU, the PTA weights (Eq. 2) summed over the patch tokens in
# which the AU's landmarks (cyan) fall.

# %%
rows, first = [], None
for m in models:
    loaded = predict.load_checkpoint(m.checkpoint, device)
    for s in m.samples:
        pred = predict.predict_images(loaded, s.onset_path, s.apex_path)
        _, png = predict.write_report(pred, m.report_dir(s))
        display(Markdown(f"### {m.cfg.dataset} · clip {s.id}"))
        display(Markdown(f"```text\n{pred.format_text()}\n```"))
        display(Image(filename=str(png)))
        first = first or png
        rows.append({"data set": m.cfg.dataset, **predict.sheet_comparison(pred, s)})
glue("predict_overlay", Image(filename=str(first)), display=False)

# %% [markdown]
# ```{glue:figure} predict_overlay
# :name: fig-predict-overlay
#
# The overlay `microau predict --out` writes for the first clip above.
# ```
#
# ## Predictions next to the coding sheet
#
# The held-out subject's coded AUs and emotion beside what the model says. The phantom's labels
# are known by construction; on real data this is the comparison a LOSO fold makes for one
# subject. With a small number of clips it illustrates the tool, it does not measure it: the
# LOSO tables of the book do that.

# %%
summary = pd.DataFrame(rows)
display(report.styled(summary, caption="Held-out clips: the coding sheet and the model"))
agree = sum(r["AUs coded (sheet)"] == r["AUs predicted active"] for r in rows)
display(Markdown(f"The predicted set of active AUs equals the coded set on {agree} of {len(rows)} clip(s)."))
if any(is_phantom(m.cfg.dataset) for m in models):
    display(Markdown("These models were trained on the phantom (simulated clips): their outputs on real "
                     "faces mean nothing. Train on your licensed CASME II or SAMM copy "
                     "(`microau train-final --dataset casme2 --root DIR`) to apply the model to real clips."))

# %% [markdown]
# ## How this page was computed

# %%
page.footer()
