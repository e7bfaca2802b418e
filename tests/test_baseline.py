"""The region-flow logistic-regression baseline: features, LOSO protocol, determinism."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from microau import baseline as bl
from microau.model.backbone import flow_images_to_tensor
from microau.prep.flow import decode_flow_image, flow_to_image, region_motion
from microau.train.metrics import au_metrics


def _flow_image(seed=0):
    rng = np.random.default_rng(seed)
    flow = rng.normal(0, 1.5, (224, 224, 2)).astype(np.float32)
    return flow_to_image(flow)


def test_features_equal_region_motion_away_from_the_border():
    img = _flow_image()
    lm = np.random.default_rng(1).uniform(30, 194, (68, 2)).round()
    feats = bl.landmark_flow_features(img, lm, radius=12.0).reshape(68, 3)
    flow = decode_flow_image(img)
    for i in (0, 17, 48, 67):
        assert np.allclose(feats[i], region_motion(flow, lm, [i], radius=12.0), atol=1e-4)


def test_features_read_back_from_train_tensors_exactly():
    imgs = np.stack([_flow_image(s) for s in range(3)])
    lm = torch.tensor(np.random.default_rng(2).uniform(20, 200, (3, 68, 2)), dtype=torch.float32)
    direct = np.stack([bl.landmark_flow_features(imgs[i], lm[i].numpy()) for i in range(3)])
    assert np.array_equal(bl.features_from_tensors(flow_images_to_tensor(imgs), lm), direct)


def test_single_class_fold_predicts_that_class():
    x = np.random.default_rng(0).normal(size=(10, 4))
    assert (bl.fit_predict_au(x, np.zeros(10, int), x[:3]) == 0).all()
    assert (bl.fit_predict_au(x, np.ones(10, int), x[:3]) == 1).all()


@pytest.fixture(scope="module")
def smoke_data():
    from microau.config import make_config
    from microau.train.data import load_train_data

    return load_train_data(make_config("smoke"), progress=False)


def test_loso_on_a_small_phantom_set(smoke_data):
    a = bl.run_baseline_loso(smoke_data)
    b = bl.run_baseline_loso(smoke_data)
    assert np.array_equal(a.predictions, b.predictions)  # deterministic
    labels = smoke_data.labels.numpy()
    assert a.predictions.shape == labels.shape and a.source == "phantom"
    names = [f"AU{x}" for x in smoke_data.aus]
    assert a.metrics.equals(au_metrics(labels, a.predictions, names))


def test_baseline_learns_region_motion():
    """On data whose AU signal sits at the Table I landmarks it beats calling every AU active."""
    from microau.train.data import TrainData

    data = TrainData.synthetic(n_subjects=5, clips_per_subject=16, seed=3)
    r = bl.run_baseline_loso(data)
    labels = data.labels.numpy()
    names = [f"AU{x}" for x in data.aus]
    always = au_metrics(labels, np.ones_like(labels), names).set_index("au").loc["mean", "f1"]
    assert r.f1 > always + 0.2


def test_each_clip_is_predicted_by_the_fold_that_held_it_out(smoke_data, monkeypatch):
    """Predictions for a subject never see that subject's clips in training."""
    seen = []
    real = bl.fit_predict_au

    def spy(x_train, y_train, x_test, c=1.0, balanced=True):
        seen.append((len(x_train), len(x_test)))
        return real(x_train, y_train, x_test, c, balanced)

    monkeypatch.setattr(bl, "fit_predict_au", spy)
    bl.run_baseline_loso(smoke_data)
    subjects = np.asarray(smoke_data.subjects)
    expected = [((subjects != s).sum(), (subjects == s).sum()) for s in smoke_data.fold_subjects
                for _ in smoke_data.aus]
    assert seen == expected


def test_plain_fit_predicts_a_rare_class_less_often_than_the_balanced_one():
    """class_weight='balanced' against the plain fit (the paper's unweighted CE, issue 22)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = (x[:, 0] + 0.8 * rng.normal(size=200) > 1.6).astype(int)  # about 8% positive
    plain = bl.fit_predict_au(x, y, x, balanced=False)
    balanced = bl.fit_predict_au(x, y, x, balanced=True)
    assert balanced.sum() > plain.sum()
