"""The paper's mechanisms against ground truth (issue 12), on small hand-made arrays."""
import numpy as np
import pytest

from microau.mechanisms import (
    MovingShare, cooccurrence, cooccurrence_agreement, dependency_on_active, dependency_profile,
    describe_cooccurrence, describe_dependency_active, describe_label_similarity, describe_pta,
    au_motion_magnitude, describe_pta_motion, describe_separation_pair, label_similarity, moving_tokens,
    pta_motion_excess, pta_moving_share, region_tokens, separation_score, separation_with_noise,
    token_motion, truth_labels, truth_moving_tokens, truth_token_motion,
)
from microau.noise import spread_of_values

GRID = (7, 7)  # 224 px / 32 px patches
SIZE = 224


def face_landmarks() -> np.ndarray:
    """68 points: every eye landmark on its eye centre (64 px apart, so the eye distance is 64),
    the nose bridge on the midline, everything else low on the face."""
    lm = np.tile([112.0, 180.0], (68, 1))
    lm[36:42] = (95.0, 95.08)
    lm[42:48] = (159.0, 95.08)
    lm[27:31] = (127.0, 120.0)
    return lm


def test_moving_tokens_of_au7_by_hand():
    """AU7's bumps sit 0.03 x 64 = 1.92 px below the lower lids, sigma 0.11 x 64 = 7.04 px. At a
    quarter of the peak the radius is 7.04 * sqrt(2 ln 4) = 11.7 px, so each disk, centred at
    (95, 97) and (159, 97), spans two token columns and two token rows."""
    got = np.flatnonzero(moving_tokens(7, face_landmarks(), SIZE, GRID))
    left = [2 * 7 + 2, 2 * 7 + 3, 3 * 7 + 2, 3 * 7 + 3]
    right = [2 * 7 + 4, 2 * 7 + 5, 3 * 7 + 4, 3 * 7 + 5]
    assert got.tolist() == sorted(left + right)
    # 'L' is the subject's left, the image's right half
    assert np.flatnonzero(moving_tokens(7, face_landmarks(), SIZE, GRID, side="L")).tolist() == sorted(right)
    # a lower threshold never narrows the set; a landmark moved far enough leaves it
    wide = moving_tokens(7, face_landmarks(), SIZE, GRID, threshold=0.01)
    assert set(got) <= set(np.flatnonzero(wide))
    lm = face_landmarks()
    lm[36:48] += (0.0, 16.0)  # eyes 16 px lower: disks span y = 101.3 to 124.7, row 3 only
    assert np.flatnonzero(moving_tokens(7, lm, SIZE, GRID)).tolist() == [3 * 7 + c for c in (2, 3, 4, 5)]


def test_token_motion_is_the_mean_relative_motion_per_patch():
    lm = face_landmarks()
    got = token_motion(7, lm, SIZE, GRID)
    mag = au_motion_magnitude(7, lm, SIZE)
    by_block = mag.reshape(7, 32, 7, 32).mean((1, 3)).ravel() / mag.max()  # 32 x 32 px patches
    np.testing.assert_allclose(got, by_block, rtol=1e-5, atol=1e-9)
    assert 0 < got.max() <= 1 and set(np.flatnonzero(got > 0.05)) <= set(np.flatnonzero(moving_tokens(7, lm, SIZE, GRID)))
    assert not token_motion(7, lm, SIZE, GRID, side="R")[[2 * 7 + 4, 2 * 7 + 5]].any()


def test_pta_motion_excess_by_hand():
    weights = np.array([[[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]]])
    index = np.array([[[0, 1, 2], [1, 2, 0]]])
    valid = np.array([[True, True, True], [True, True, False]])
    motion = np.array([[[0.9, 0.3, 0.0], [0.0, 0.2, 0.6]]])
    # AU 0: attended 0.9, uniform (0.9 + 0.3 + 0) / 3 = 0.4 -> +0.5; AU 1: attended 0.4, uniform 0.4 -> 0
    np.testing.assert_allclose(pta_motion_excess(weights, index, valid, motion, np.array([[1, 1]])), [0.25])
    np.testing.assert_allclose(pta_motion_excess(weights, index, valid, motion, np.array([[1, 0]])), [0.5])
    assert np.isnan(pta_motion_excess(weights, index, valid, motion, np.array([[0, 0]]))[0])
    subjects = np.repeat(["a", "b", "c", "d"], 3)
    tight = spread_of_values([0.25, 0.251, 0.249])
    assert "Holds" in describe_pta_motion(np.linspace(0.2, 0.3, 12), subjects, spread=tight, n_boot=100)
    assert "Not judged" in describe_pta_motion(np.linspace(0.2, 0.3, 12), subjects, n_boot=100)


def test_truth_moving_tokens_only_for_the_moving_aus():
    lm = np.stack([face_landmarks(), face_landmarks()])
    truth = [{"subject": "s1", "clip": "a", "aus": [7, 6], "sides": {}},
             {"subject": "s1", "clip": "b", "aus": [12], "sides": {}}]
    out = truth_moving_tokens(truth, ["s1/a", "s1/b"], lm, (7, 1), SIZE, GRID)
    assert out.shape == (2, 2, 49)
    assert out[0, 0].sum() == 8 and not out[0, 1].any() and not out[1].any()
    motion = truth_token_motion(truth, ["s1/a", "s1/b"], lm, (7, 1), SIZE, GRID)
    assert motion[0, 0].max() > 0 and not motion[0, 1].any() and not motion[1].any()
    np.testing.assert_array_equal(truth_labels(truth, ["s1/b", "s1/a"], (7, 12)), [[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="no phantom truth"):
        truth_moving_tokens(truth, ["s2/x"], lm[:1], (7,), SIZE, GRID)


def test_region_tokens_follow_eq1():
    lm = face_landmarks()[None]
    index, valid = region_tokens(lm, (7,), SIZE, GRID)
    # AU7's Table I landmarks are lower-lid points: all on the eye centres here
    assert valid.shape[0] == 1 and index.shape[:2] == (1, 1)
    tokens = set(index[0, 0][valid[0]].tolist())
    assert tokens <= {2 * 7 + 2, 2 * 7 + 4}  # (95, 95.08) -> row 2, col 2; (159, 95.08) -> row 2, col 4


def test_pta_share_by_hand():
    weights = np.array([[[0.5, 0.3, 0.2], [0.6, 0.4, 0.0]],
                        [[0.2, 0.2, 0.6], [0.5, 0.5, 0.0]]])
    index = np.array([[[0, 1, 1], [2, 3, 0]],
                      [[0, 1, 2], [2, 3, 0]]])
    valid = np.array([[True, True, True], [True, True, False]])
    moving = np.zeros((2, 2, 4), dtype=bool)
    moving[0, 0, 1] = True  # clip 0, AU 0: token 1 moves (landmarks 2 and 3 fall in it)
    moving[0, 1, 0] = True  # clip 0, AU 1: token 0 moves, but only the padding slot points there
    moving[1, 0, [0, 2]] = True
    active = np.array([[1, 1], [1, 0]])
    s = pta_moving_share(weights, index, valid, moving, active)
    assert s.share[0, 0] == pytest.approx(0.5) and s.uniform[0, 0] == pytest.approx(2 / 3)
    assert s.share[1, 0] == pytest.approx(0.8) and s.uniform[1, 0] == pytest.approx(2 / 3)
    assert not s.counted[0, 1] and s.uncovered[0, 1]  # padding never counts
    assert not s.counted[1, 1] and not s.uncovered[1, 1]  # inactive
    share, uniform, n = s.per_au()
    assert share[0] == pytest.approx(0.65) and uniform[0] == pytest.approx(2 / 3) and n.tolist() == [2, 0]
    assert np.isnan(share[1])
    np.testing.assert_allclose(s.clip_excess(), [0.5 - 2 / 3, 0.8 - 2 / 3])


def test_dependency_on_active_and_cooccurrence_by_hand():
    dep = np.array([[0.5, 0.25, 0.25], [0.2, 0.2, 0.6], [1 / 3, 1 / 3, 1 / 3]])
    y = np.array([[1, 1, 0], [0, 0, 1], [0, 0, 0]])
    mass, chance = dependency_on_active(dep, y)
    np.testing.assert_allclose(mass[:2], [0.75, 0.6])
    np.testing.assert_allclose(chance[:2], [2 / 3, 1 / 3])
    assert np.isnan(mass[2]) and np.isnan(chance[2])
    labels = np.array([[1, 1, 0], [1, 0, 0], [1, 1, 1], [0, 0, 0]])
    c = cooccurrence(labels)
    np.testing.assert_allclose(c[0], [1, 2 / 3, 1 / 3])
    np.testing.assert_allclose(c[1], [1, 1, 0.5])
    np.testing.assert_allclose(c[2], [1, 1, 1])
    prof = dependency_profile(np.eye(3)[[0, 1, 2, 0]], labels)
    np.testing.assert_allclose(prof[0], [1 / 3, 1 / 3, 1 / 3])
    assert np.isnan(cooccurrence(np.zeros((2, 2)))).all()


def test_cooccurrence_agreement_is_pearson_over_off_diagonal_pairs():
    rng = np.random.default_rng(0)
    labels = (rng.random((60, 4)) < np.array([0.6, 0.4, 0.3, 0.2])).astype(int)
    labels[:, 1] |= labels[:, 0] & (rng.random(60) < 0.7)  # AU1 follows AU0
    dep = rng.dirichlet(np.ones(4), size=60)
    prof, cooc = dependency_profile(dep, labels), cooccurrence(labels)
    off = ~np.eye(4, dtype=bool)
    assert cooccurrence_agreement(dep, labels, labels) == pytest.approx(np.corrcoef(prof[off], cooc[off])[0, 1])
    # a W_d that ignores the input has a constant profile: no agreement to measure
    assert np.isnan(cooccurrence_agreement(np.full((60, 4), 0.25), labels, labels))


def test_label_similarity_by_hand():
    # one AU; fold 0 has clips a (1,0) y=1, b (1,0) y=1, c (0,1) y=0; fold 1 has d (1,1) y=1, e (1,0) y=0
    feats = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0]])[:, None, :]
    y = np.array([1, 1, 0, 1, 0])[:, None]
    fold = np.array([0, 0, 0, 1, 1])
    sim = label_similarity(feats, y, fold)
    # within: (a, b) = 1; between: (a, c) = 0, (b, c) = 0, (d, e) = 1/sqrt(2); pairs across folds ignored
    assert sim[0, 0] == pytest.approx(1.0)
    assert sim[0, 1] == pytest.approx((0 + 0 + 2 ** -0.5) / 3)
    assert separation_score(feats, y, fold) == pytest.approx(1.0 - (2 ** -0.5) / 3)


def test_separation_with_noise():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, size=(40, 2))
    fold = np.repeat(np.arange(8), 5)
    sep = np.stack([np.where(y[:, [n]] == 1, [[1.0, 0.0]], [[0.0, 1.0]]) for n in range(2)], 1)
    feats = sep + 0.3 * rng.normal(size=(40, 2, 2))
    value, low, high = separation_with_noise(feats, y, fold, n_boot=300)
    assert value == pytest.approx(separation_score(feats, y, fold))
    assert 0 < low <= value <= high
    noisy = rng.normal(size=(40, 2, 2))
    d, dlow, dhigh = separation_with_noise(feats, y, fold, n_boot=300, other=(noisy, y, fold))
    assert d == pytest.approx(value - separation_score(noisy, y, fold)) and dlow > 0
    same = separation_with_noise(feats, y, fold, n_boot=100, other=(feats, y, fold))
    assert same == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="folds"):
        separation_with_noise(feats, y, fold, other=(feats[:35], y[:35], fold[:35]))


def test_sentences_are_gated_by_noise():
    subjects = np.repeat([f"s{k}" for k in range(6)], 4)
    n = len(subjects)
    counted = np.ones((n, 1), dtype=bool)
    focused = MovingShare(np.full((n, 1), 0.9) + np.linspace(0, 0.05, n)[:, None], np.full((n, 1), 0.5),
                          counted, np.zeros((n, 1), dtype=bool))
    tight = spread_of_values([0.40, 0.401, 0.399])
    assert "Holds on the phantom" in describe_pta(focused, subjects, spread=tight, n_boot=200)
    # without a measured seed spread nothing is claimed
    assert "Not judged" in describe_pta(focused, subjects, n_boot=200)
    assert "seed spread not measured" in describe_pta(focused, subjects, n_boot=200)
    flat = MovingShare(np.full((n, 1), 0.5), np.full((n, 1), 0.5), counted, np.zeros((n, 1), dtype=bool))
    assert "Within noise" in describe_pta(flat, subjects, spread=tight, n_boot=200)
    # a seed spread wider than the effect keeps it within noise
    wide = spread_of_values([0.0, 0.6, -0.6, 0.3, -0.3])
    assert "Within noise" in describe_pta(focused, subjects, spread=wide, n_boot=200)

    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, size=(n, 3))
    y[:, 0] = 1
    dep = np.where(y == 1, 5.0, 1.0)
    dep = dep / dep.sum(1, keepdims=True)
    assert "Holds" in describe_dependency_active(dep, y, subjects, spread=tight, n_boot=200)
    assert "Within noise" in describe_dependency_active(np.full((n, 3), 1 / 3), y, subjects, spread=tight,
                                                       n_boot=200)
    assert "Pearson r" in describe_cooccurrence(dep, y, y, subjects, n_boot=50)

    fold = np.repeat(np.arange(6), 4)
    feats = np.where(y[..., None] == 1, [1.0, 0.0], [0.0, 1.0]) + 0.1 * rng.normal(size=(n, 3, 2))
    s = describe_label_similarity(feats, y, fold, "MiAUCL", spread=tight, n_boot=200)
    assert s.startswith("*MiAUCL*: Holds on the phantom")
    noisy = rng.normal(size=(n, 3, 2))
    s = describe_separation_pair("full", "without LSI", (feats, y, fold), (noisy, y, fold), spread=tight,
                                 n_boot=200)
    assert s.startswith("ours: full > without LSI in separation score")
    s = describe_separation_pair("full", "copy", (feats, y, fold), (feats, y, fold), spread=tight, n_boot=50)
    assert "within noise" in s


def test_ground_truth_lines_up_with_the_prepared_phantom():
    """On the smoke phantom (4 subjects): the generator's AUs are the sheet's labels, and the truth
    placed through the prepared landmarks puts each active AU's motion on its Table I tokens."""
    from dataclasses import dataclass

    import pandas as pd

    from microau.config import make_config
    from microau.mechanisms import ground_truth_for_run
    from microau.train.data import load_train_data

    cfg = make_config("smoke", "full", dataset="phantom-casme2")
    data = load_train_data(cfg, progress=False)

    @dataclass
    class Result:
        config: object
        predictions: pd.DataFrame
        run_dir: str = "(no directory)"

    gt = ground_truth_for_run(Result(cfg, pd.DataFrame({"id": data.ids})))
    np.testing.assert_array_equal(gt.generator_labels, data.labels.numpy())
    index, valid = region_tokens(gt.landmarks, gt.aus, gt.image_size, gt.grid)
    on = np.take_along_axis(gt.moving, index, 2) & valid[None]
    active = gt.generator_labels.astype(bool)
    assert active.sum() > 10
    assert (on.sum(-1) > 0)[active].mean() >= 0.9
    assert not gt.moving[~active].any() and (gt.motion[active].max(-1) > 0.1).all()
    with pytest.raises(ValueError, match="other clips"):
        ground_truth_for_run(Result(cfg, pd.DataFrame({"id": data.ids[::-1]})))
    with pytest.raises(ValueError, match="no ground truth"):
        ground_truth_for_run(Result(make_config("smoke", "full", dataset="casme2"), pd.DataFrame({"id": []})))
