"""Negative controls (issue 22): every mechanism check passes a model with the structure and fails
its deliberately broken copy; the peak-token truth leaves a minority of candidate tokens."""
import numpy as np
import pytest

from microau import controls
from microau.mechanisms import RunGroundTruth, peak_tokens, region_tokens
from microau.noise import spread_of_values

GRID = (14, 14)
SIZE = 112


def _truth(n_clips=240, seed=0):
    """Clips of one AU (AU4, six brow landmarks) whose motion peaks on the first landmark's token."""
    rng = np.random.default_rng(seed)
    lm = np.tile([56.0, 90.0], (n_clips, 68, 1))
    xs = np.array([20.0, 30.0, 40.0, 70.0, 80.0, 90.0])  # landmarks 19..24 in six distinct tokens
    lm[:, 19:25, 0], lm[:, 19:25, 1] = xs, 30.0
    aus = (4, 12)
    index, valid = region_tokens(lm, aus, SIZE, GRID)
    motion = np.zeros((n_clips, 2, GRID[0] * GRID[1]))
    motion[:, 0, index[:, 0, 0]] = 1.0  # the peak: landmark 19's token
    motion[:, 0, index[:, 0, 1]] = 0.4  # a neighbour moving less
    labels = np.ones((n_clips, 2), int)
    labels[: n_clips // 2, 1] = 0
    subjects = [f"s{i % 8}" for i in range(n_clips)]
    truth = RunGroundTruth(ids=[f"c{i}" for i in range(n_clips)], subjects=subjects, landmarks=lm, aus=aus,
                           image_size=SIZE, grid=GRID, moving=motion > 0, motion=motion,
                           generator_labels=labels)
    return truth, index, valid, labels, rng


def test_peak_tokens_are_a_minority_of_the_candidates():
    truth, index, valid, *_ = _truth()
    peak = peak_tokens(truth.motion, index, valid)
    assert peak[:, 0].sum(-1).tolist() == [1] * len(peak)  # one of six candidate tokens
    assert not peak[:, 1].any()  # AU12 does not move here
    assert peak_tokens(truth.motion, index, valid, share=0.3)[:, 0].sum(-1).max() == 2


def _arrays(truth, index, valid, labels, rng, attend=True):
    M, N, L = index.shape
    w = np.where(valid[None], 1.0, 0.0) * np.ones((M, N, L))
    if attend:
        w[:, 0, 0] += 8.0  # attention on the peak landmark
    w = w / w.sum(-1, keepdims=True)
    dep = np.where(labels == 1, 3.0, 1.0) + 0.1 * rng.random((M, N))
    dep = dep / dep.sum(1, keepdims=True)
    fold = np.array([int(s[1:]) for s in truth.subjects])
    feats = np.where(labels[..., None] == 1, [1.0, 0.0], [0.0, 1.0]) + 0.2 * rng.normal(size=(M, N, 2))
    return {"labels": labels, "token_weights": w, "dependency": dep, "au_features": feats, "fold": fold}


def test_each_check_passes_the_model_and_catches_its_broken_copy():
    truth, index, valid, labels, rng = _truth()
    arr = _arrays(truth, index, valid, labels, rng)
    tight = {k: spread_of_values([0.0, 0.001, -0.001]) for k in ("pta", "gda_active", "similarity")}

    class Result:
        def arrays(self):
            return arr

    rows = controls.broken_model_rows(Result(), truth, tight, n_boot=200)
    assert {r.check for r in rows} == {"pta", "gda_active", "similarity"}
    for r in rows:
        assert r.model.status == "a > b", r.check
        assert r.caught and r.discriminates, r.check
    table = controls.broken_model_table(rows, "phantom")
    assert (table.caught == "yes").all()


def test_a_model_without_attention_fails_the_pta_check():
    truth, index, valid, labels, rng = _truth()
    arr = _arrays(truth, index, valid, labels, rng, attend=False)
    tight = {"pta": spread_of_values([0.0, 0.001, -0.001])}
    assert controls.judge_arrays(arr, truth, tight, n_boot=200)["pta"].direction <= 0


def test_without_a_measured_spread_nothing_passes():
    truth, index, valid, labels, rng = _truth()
    arr = _arrays(truth, index, valid, labels, rng)
    verdicts = controls.judge_arrays(arr, truth, {}, n_boot=100)
    assert all(v.status == "unjudged" for v in verdicts.values())


def test_shuffles_keep_what_they_should():
    rng = np.random.default_rng(1)
    w = rng.random((5, 2, 6))
    valid = np.array([[True] * 6, [True, True, False, False, False, False]])
    s = controls.shuffled_pta(w, valid)
    np.testing.assert_allclose(np.sort(s[:, 0], -1), np.sort(w[:, 0], -1))
    np.testing.assert_array_equal(s[:, 1, 2:], w[:, 1, 2:])  # padding untouched
    feats = rng.random((6, 2, 3))
    fold = np.array([0, 0, 0, 1, 1, 1])
    sf = controls.shuffled_features(feats, fold)
    assert sorted(map(tuple, sf[:3, 0])) == sorted(map(tuple, feats[:3, 0]))
    with pytest.raises(AssertionError):
        np.testing.assert_array_equal(sf, feats)
