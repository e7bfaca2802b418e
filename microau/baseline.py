"""The region-flow baseline: per-AU logistic regression on mean flow around the 68 landmarks,
under the same LOSO protocol as the model (one fold per subject, predictions of all folds
concatenated, F1/accuracy per AU and their mean, ``microau.train.metrics.au_metrics``).

Features (our choice; the paper has no such baseline): for every landmark, the mean (u, v,
magnitude) of the decoded flow in a disc of ``radius`` px around it, 68 x 3 = 204 numbers per
clip, read from the prepared flow images and landmarks (``microau.train.data.load_train_data``).
Per AU and fold: standardisation fitted on the training subjects, then L2 logistic regression
(lbfgs, ``C``; class weights balanced by default so that rare AUs are predicted at all,
``balanced=False`` for the plain fit that matches the paper's unweighted cross-entropy). A fold whose
training subjects hold a single class for an AU predicts that class. Deterministic: lbfgs has no
random state, and nothing else draws.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .aus import au_name
from .prep.flow import decode_flow_image
from .train.metrics import au_metrics, no_au_metrics

# How numbers from this module are labelled in tables and pages.
LABEL = "region-flow logistic regression"


def disc_kernel(radius: float) -> np.ndarray:
    """Normalised disc of ``radius`` px (the pixels region_motion averages over)."""
    r = int(np.floor(radius))
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    k = (xx * xx + yy * yy <= radius * radius).astype(np.float32)
    return k / k.sum()


def landmark_flow_features(flow_image: np.ndarray, landmarks: np.ndarray, radius: float = 12.0,
                           flow_scale: float = 16.0) -> np.ndarray:
    """Mean (u, v, magnitude) in a disc around each landmark: float32 [68 * 3].

    One filter pass per channel, read at the rounded landmark positions. Away from the image
    border it equals ``microau.prep.flow.region_motion(flow, landmarks, [i], radius)`` per
    landmark (tested); at the border the disc is zero-padded rather than cut.
    """
    import cv2

    flow = decode_flow_image(flow_image, flow_scale)
    chans = np.dstack([flow, np.hypot(flow[..., 0], flow[..., 1])]).astype(np.float32)
    k = disc_kernel(radius)
    means = cv2.filter2D(chans, -1, k, borderType=cv2.BORDER_CONSTANT)
    h, w = chans.shape[:2]
    xy = np.rint(np.asarray(landmarks, np.float64)).astype(int)
    x = np.clip(xy[:, 0], 0, w - 1)
    y = np.clip(xy[:, 1], 0, h - 1)
    return means[y, x].reshape(-1).astype(np.float32)


def features_from_tensors(images, landmarks, radius: float = 12.0) -> np.ndarray:
    """Features of every clip of a TrainData (its CLIP-normalised image tensor undone to uint8)."""
    from .model.backbone import OPENAI_MEAN, OPENAI_STD

    x = images.detach().cpu().numpy().transpose(0, 2, 3, 1)
    u8 = np.clip(np.rint((x * np.array(OPENAI_STD) + np.array(OPENAI_MEAN)) * 255.0), 0, 255).astype(np.uint8)
    lm = landmarks.detach().cpu().numpy()
    return np.stack([landmark_flow_features(u8[i], lm[i], radius) for i in range(len(u8))])


def fit_predict_au(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, c: float = 1.0,
                   balanced: bool = True) -> np.ndarray:
    """0/1 predictions of one AU for the test clips (logistic regression fitted on the training clips;
    ``balanced``: classes weighted n / (2 n_class), as ``Config.class_weights='balanced'`` weighs the
    model's cross-entropy)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    classes = np.unique(y_train)
    if len(classes) == 1:
        return np.full(len(x_test), int(classes[0]))
    scaler = StandardScaler().fit(x_train)
    model = LogisticRegression(C=c, class_weight="balanced" if balanced else None, max_iter=5000)
    model.fit(scaler.transform(x_train), y_train)
    return model.predict(scaler.transform(x_test)).astype(int)


@dataclass
class BaselineResult:
    dataset: str
    source: str  # 'phantom', 'casme2', 'samm'
    metrics: pd.DataFrame  # per AU and 'mean' (au_metrics)
    predictions: np.ndarray  # [M, N] 0/1, LOSO (each clip predicted by the fold that held it out; 0 if none)
    seconds: float

    @property
    def f1(self) -> float:
        return float(self.metrics.set_index("au").loc["mean", "f1"])

    @property
    def acc(self) -> float:
        return float(self.metrics.set_index("au").loc["mean", "acc"])


def run_baseline_loso(data, radius: float = 12.0, c: float = 1.0, balanced: bool = True) -> BaselineResult:
    """LOSO evaluation of the baseline on a ``microau.train.data.TrainData``. ``radius`` is in
    pixels of a 224-pixel flow image and scales with the data's image size."""
    t0 = time.perf_counter()
    feats = features_from_tensors(data.images, data.landmarks, radius * data.images.shape[-1] / 224.0)
    labels = data.labels.cpu().numpy()
    preds = np.zeros_like(labels)
    for fold in data.fold_subjects:  # one per subject; across sets, the folds the run's holdout asks for
        test, train = data.subject_index(fold, test=True), data.subject_index(fold, test=False)
        for n in range(labels.shape[1]):
            preds[test, n] = fit_predict_au(feats[train], labels[train, n], feats[test], c, balanced)
    scored = data.scored()
    names = [au_name(a) for a in data.aus]
    metrics = au_metrics(labels[scored], preds[scored], names) if scored.any() else no_au_metrics(names)
    return BaselineResult(data.dataset, data.source, metrics, preds, time.perf_counter() - t0)


def baseline_for_config(cfg, progress: bool = False, **kwargs) -> BaselineResult:
    """The baseline on the data of a run's config (same clips, preparation and folds)."""
    from .train.data import load_train_data

    return run_baseline_loso(load_train_data(cfg, progress=progress), **kwargs)
