"""Readings of the paper where its text leaves the computation open (issue 11): MiAUCL targets,
the "LSI x" row of Table II, and the floor of Eq. 8. Each reading against a hand computation."""
import math

import numpy as np
import pytest
import torch

from microau.config import KEY_NEUTRAL, READING_ROWS, VARIANTS, Config, make_config
from microau.losses import gd_loss, gd_loss_floor, miau_contrastive, miaucl_reading_gaps, total_loss
from microau.model.lsi import LocalAUFeatures
from microau.model.micro_au_clip import MicroAUCLIP, gather_prompt_features
from microau.train.loso import config_key

# ---- hand computations (plain loops, numpy) ------------------------------------------------------


def _cos_logits(v, t, scale):
    B = len(v)
    return np.array([[np.dot(v[i], t[j]) / np.linalg.norm(v[i]) / np.linalg.norm(t[j]) for j in range(B)]
                     for i in range(B)]) * scale


def _log_softmax(row):
    m = row.max()
    return row - m - math.log(np.exp(row - m).sum())


def _ce_rows(logits, target, normalize):
    total = 0.0
    for i in range(len(logits)):
        q = target[i] / target[i].sum() if normalize else target[i]
        total += -(q * _log_softmax(logits[i])).sum()
    return total / len(logits)


def _cl_soft(v, t, target, scale, normalize):
    m = _cos_logits(v, t, scale)
    return 0.5 * (_ce_rows(m, target, normalize) + _ce_rows(m.T, target.T, normalize))


def _cl_sigmoid(v, t, target, scale):
    m = _cos_logits(v, t, scale)
    total = 0.0
    for i in range(len(m)):
        for j in range(len(m)):
            p = 1.0 / (1.0 + math.exp(-m[i, j]))
            total += -(target[i, j] * math.log(p) + (1 - target[i, j]) * math.log(1 - p))
    return total / m.size


def _label_matrix(y):
    return (y[:, None] == y[None, :]).astype(float)


@pytest.fixture
def batch():
    """Six samples, three AUs, repeated labels; text features gathered from two prompts per AU."""
    rng = np.random.default_rng(4)
    B, N, D = 6, 3, 5
    labels = np.array([[1, 0, 0], [0, 0, 1], [1, 1, 0], [1, 0, 0], [0, 1, 1], [0, 0, 0]])
    visual = rng.normal(size=(B, N, D))
    prompts = rng.normal(size=(N, 2, D))
    text = gather_prompt_features(torch.tensor(prompts), torch.tensor(labels)).numpy()
    return visual, text, labels, 7.0, prompts


# ---- MiAUCL readings (Eq. 9-11) ---------------------------------------------------------------------


@pytest.mark.parametrize("reading", ["normalized", "literal", "sigmoid"])
def test_each_miaucl_reading_against_a_hand_computation(batch, reading):
    v, t, y, scale, prompts = batch
    expected = 0.0
    for n in range(y.shape[1]):
        lm = _label_matrix(y[:, n])
        if reading == "sigmoid":
            expected += _cl_sigmoid(v[:, n], t[:, n], lm, scale)
        else:
            expected += _cl_soft(v[:, n], t[:, n], lm, scale, normalize=reading == "normalized")
    got = miau_contrastive(torch.tensor(v), torch.tensor(t), torch.tensor(y), torch.tensor(scale),
                           targets=reading)
    assert got.item() == pytest.approx(expected, rel=1e-9)


def test_literal_reading_is_rows_weighted_by_group_size(batch):
    """With equal same-label text columns, the literal reading is local OrigCL with each row (and
    column) weighted by its number of same-label samples: hand-checked on one AU."""
    v, t, y, scale, prompts = batch
    n = 0
    m = _cos_logits(v[:, n], t[:, n], scale)
    counts = _label_matrix(y[:, n]).sum(1)
    v2t = np.mean([-counts[i] * _log_softmax(m[i])[i] for i in range(len(m))])
    t2v = np.mean([-counts[i] * _log_softmax(m.T[i])[i] for i in range(len(m))])
    got = miau_contrastive(torch.tensor(v[:, [n]]), torch.tensor(t[:, [n]]), torch.tensor(y[:, [n]]),
                           torch.tensor(scale), targets="literal")
    assert got.item() == pytest.approx(0.5 * (v2t + t2v), rel=1e-9)


def _loss_and_grad(v, prompts, y, scale, **kw):
    """Loss and gradients with respect to the visual features and to the 2N prompt features (the
    text side's real inputs: each sample's text is gathered from them)."""
    vt = torch.tensor(v, requires_grad=True)
    pt = torch.tensor(prompts, requires_grad=True)
    yt = torch.tensor(y)
    loss = miau_contrastive(vt, gather_prompt_features(pt, yt), yt, torch.tensor(scale), **kw)
    loss.backward()
    return loss.detach(), vt.grad, pt.grad


def test_normalized_reading_equals_diagonal_targets_loss_and_gradient(batch):
    """Issue 11 finding 1: as written, MiAUCL is local OrigCL (both prompts shared per label)."""
    v, t, y, scale, prompts = batch
    a = _loss_and_grad(v, prompts, y, scale, targets="normalized")
    b = _loss_and_grad(v, prompts, y, scale, diagonal_targets=True)
    for x, z in zip(a, b):
        torch.testing.assert_close(x, z, rtol=0, atol=1e-12)
    # with one text vector per sample (no shared columns) the two differ: the identity rests on
    # the two prompts per AU, not on the loss alone
    t_free = torch.tensor(np.random.default_rng(0).normal(size=t.shape))
    args = (torch.tensor(v), t_free, torch.tensor(y), torch.tensor(scale))
    assert miau_contrastive(*args, targets="normalized").item() != pytest.approx(
        miau_contrastive(*args, diagonal_targets=True).item())


@pytest.mark.parametrize("reading", ["literal", "sigmoid"])
def test_other_readings_differ_from_diagonal_on_repeated_labels(batch, reading):
    v, t, y, scale, prompts = batch
    ours, gv, _ = _loss_and_grad(v, prompts, y, scale, targets=reading)
    diag, gd, _ = _loss_and_grad(v, prompts, y, scale, diagonal_targets=True)
    assert abs(ours.item() - diag.item()) > 1e-3
    # not only a different value: a different direction of the visual gradient
    cos = torch.nn.functional.cosine_similarity(gv.flatten(), gd.flatten(), dim=0).item()
    assert cos < 0.999


def test_unknown_reading_is_a_clear_error(batch):
    v, t, y, scale, prompts = batch
    with pytest.raises(ValueError, match="normalized"):
        miau_contrastive(torch.tensor(v), torch.tensor(t), torch.tensor(y), torch.tensor(scale), targets="soft")


def test_full_and_local_origcl_give_different_losses_on_one_batch(tiny_clip_factory):
    torch.manual_seed(3)
    full = make_config("smoke", "full", dataset="phantom-casme2")
    local = make_config("smoke", "table8/local_origcl", dataset="phantom-casme2")
    as_written = make_config("smoke", "readings/miaucl_normalized", dataset="phantom-casme2")
    model = MicroAUCLIP(full, clip=tiny_clip_factory(4))
    y = torch.tensor([[1, 0, 1, 0, 0, 0, 1, 1], [1, 0, 1, 1, 0, 1, 0, 0], [1, 1, 0, 0, 1, 0, 0, 0],
                      [0, 0, 1, 0, 0, 0, 1, 0]])
    out = model(torch.randn(4, 3, 224, 224), torch.rand(4, 68, 2) * 224)
    text = gather_prompt_features(model.prompt_features(), y)
    scale = model.logit_scale.exp()
    parts = {name: total_loss(cfg, out, y, text, scale)
             for name, cfg in (("full", full), ("local", local), ("normalized", as_written))}
    assert abs(parts["full"].contrastive.item() - parts["local"].contrastive.item()) > 1e-3
    assert parts["full"].total.item() != pytest.approx(parts["local"].total.item(), rel=1e-4)
    torch.testing.assert_close(parts["normalized"].contrastive, parts["local"].contrastive)


# ---- configuration and run keys ------------------------------------------------------------------------

# run keys at commit 1cf2a55, before the field existed (quick profile)
KEYS_BEFORE = {
    ("phantom-casme2", "full"): "6b1e2bcb8e",
    ("phantom-casme2", "table8/no_cl"): "574a450c2d",
    ("phantom-casme2", "table8/global_origcl"): "e6139d5604",
    ("phantom-casme2", "table8/local_origcl"): "0cfa9ae13a",
    ("phantom-samm", "full"): "3876a3e30c",
    ("phantom-samm", "table8/no_cl"): "c2f8ea2c25",
    ("phantom-samm", "table8/global_origcl"): "b5d0ff9345",
    ("phantom-samm", "table8/local_origcl"): "c295f7bb75",
}


# The quick profile when KEYS_BEFORE were recorded: random init (today's 'quick-scratch'), 10 epochs
QUICK_WHEN_RECORDED = dict(clip_model="microau-tiny", visual_trainable_blocks=1, epochs=10, lr_decay_epoch=7)


@pytest.mark.parametrize("dataset", ["phantom-casme2", "phantom-samm"])
def test_run_keys_change_only_where_the_computation_does(dataset):
    key = lambda v: config_key(make_config("quick-scratch", v, dataset=dataset, **QUICK_WHEN_RECORDED))  # noqa: E731
    for v in ("table8/no_cl", "table8/global_origcl", "table8/local_origcl"):
        assert key(v) == KEYS_BEFORE[(dataset, v)], v
    # the reading that computes what 'full' computed before the field reuses its stored runs
    assert key("readings/miaucl_normalized") == KEYS_BEFORE[(dataset, "full")]
    # the default reading is a new computation, so a new key
    assert key("full") != KEYS_BEFORE[(dataset, "full")]
    assert key("full") == key("table8/miaucl") == key("readings/miaucl_literal")
    assert len({key("full"), key("readings/miaucl_sigmoid"), key("readings/miaucl_normalized")}) == 3


def test_miaucl_targets_field():
    assert make_config("quick", "full").miaucl_targets == "literal"
    assert make_config("quick", "table8/miaucl").miaucl_targets == "literal"
    assert make_config("quick", "readings/miaucl_sigmoid").miaucl_targets == "sigmoid"
    # outside MiAUCL the field does not enter the computation; it holds the neutral value
    for v in ("table8/no_cl", "table8/global_origcl", "table8/local_origcl"):
        assert make_config("quick", v).miaucl_targets == KEY_NEUTRAL["miaucl_targets"]
    assert Config(contrastive="local", miaucl_targets="sigmoid").miaucl_targets == "normalized"
    with pytest.raises(ValueError, match="miaucl_targets"):
        Config(miaucl_targets="soft")


def test_a_run_stored_before_the_field_reads_back_as_the_neutral_reading(tmp_path):
    old = make_config("quick-scratch", "full", **QUICK_WHEN_RECORDED).to_dict()
    del old["miaucl_targets"]
    (tmp_path / "config.yaml").write_text(__import__("yaml").safe_dump(old))
    stored = Config.from_stored_yaml(tmp_path / "config.yaml")
    assert stored.miaucl_targets == "normalized"
    assert config_key(stored) == KEYS_BEFORE[("phantom-casme2", "full")]
    assert Config.from_yaml(tmp_path / "config.yaml").miaucl_targets == "literal"  # a user's file: default


def test_reading_rows_name_existing_non_paper_variants():
    for table, rows in READING_ROWS.items():
        for label, variant in rows.items():
            assert variant in VARIANTS and not variant.startswith("table"), (table, label)
    assert make_config("quick", "table2/gsd_only").lsi == "cls_proj"
    assert make_config("quick", "readings/gsd_only_cls_token").lsi == "none"
    assert not make_config("quick", "table2/gsd_only").uses_landmarks
    assert make_config("quick", "full").uses_landmarks


# ---- "LSI x" (Table II) --------------------------------------------------------------------------------


def test_cls_proj_is_a_per_au_linear_map_of_the_class_token():
    torch.manual_seed(0)
    lsi = LocalAUFeatures("cls_proj", 3, 4, 8)
    cls = torch.randn(2, 4)
    feats, weights = lsi(torch.randn(2, 9, 4), cls, torch.zeros(2, 3, 1, dtype=torch.long),
                         torch.ones(3, 1, dtype=torch.bool))
    assert weights is None
    for n in range(3):
        w, b = lsi.cls_proj.weight[n], lsi.cls_proj.bias[n]
        torch.testing.assert_close(feats[:, n], cls @ w + b)
    assert not torch.allclose(feats[:, 0], feats[:, 1])


@pytest.mark.parametrize("variant,uniform", [("readings/gsd_only_cls_token", True), ("table2/gsd_only", False)])
def test_gda_attention_under_each_no_lsi_reading(tiny_clip_factory, variant, uniform):
    """Eq. 4-5 on random inputs: exactly uniform A (and an input-independent W_d) when every AU
    gets the class token; a non-uniform A under the per-AU projection."""
    torch.manual_seed(1)
    cfg = make_config("smoke", variant, dataset="phantom-casme2")
    model = MicroAUCLIP(cfg, clip=tiny_clip_factory(2)).eval()
    with torch.no_grad():
        a = model(torch.randn(3, 3, 224, 224), torch.rand(3, 68, 2) * 224)
        b = model(torch.randn(3, 3, 224, 224) * 2, torch.rand(3, 68, 2) * 224)
    n = a.attention.shape[-1]
    if uniform:
        torch.testing.assert_close(a.attention, torch.full_like(a.attention, 1.0 / n), rtol=0, atol=1e-7)
        torch.testing.assert_close(a.dependency, b.dependency, rtol=0, atol=1e-7)
    else:
        assert (a.attention - 1.0 / n).abs().max().item() > 1e-3
        assert not torch.allclose(a.dependency, b.dependency)


def test_fast_trainer_equals_reference_for_the_sigmoid_reading():
    """(tests/test_training.py covers 'full' and 'table2/gsd_only', now the literal and cls_proj
    readings.)"""
    from microau.train.data import TrainData
    from microau.train.fast import train_folds_fast
    from microau.train.reference import train_fold_reference

    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # rounding error only, on any CPU
    try:
        data = TrainData.synthetic(n_subjects=2, clips_per_subject=5, seed=0)
        data.images, data.landmarks = data.images.double(), data.landmarks.double()
        cfg = make_config("smoke", "readings/miaucl_sigmoid", dataset="phantom-casme2", epochs=2, batch_size=4)
        ref = [train_fold_reference(cfg, data, f) for f in range(2)]
        fast = train_folds_fast(cfg, data, [0, 1])
    finally:
        torch.set_default_dtype(previous)
    for a, b in zip(ref, fast):
        np.testing.assert_allclose(a.probs, b.probs, rtol=0, atol=1e-12)
        np.testing.assert_allclose(a.epoch_loss, b.epoch_loss, rtol=1e-12)


# ---- Eq. 8 floor ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_aus,k", [(8, 0), (8, 1), (8, 2), (8, 3), (4, 4), (5, 2)])
def test_gdloss_floor_closed_form(n_aus, k):
    floor = gd_loss_floor(n_aus, k)
    y = torch.zeros(1, n_aus)
    y[0, :k] = 1
    # the minimiser: 1/k on the active AUs (uniform when none is active) attains the floor
    best = torch.full((1, n_aus), 1.0 / n_aus) if k == 0 else y / k
    assert gd_loss(best, y).item() == pytest.approx(floor, abs=1e-7)
    # no point of the simplex goes below it (random points, and the corners)
    rng = np.random.default_rng(0)
    w = torch.tensor(rng.dirichlet(np.ones(n_aus) * 0.3, size=4000), dtype=torch.float32)
    values = ((w - y) ** 2).mean(1)
    assert values.min().item() >= floor - 1e-6
    corners = ((torch.eye(n_aus) - y) ** 2).mean(1)
    assert corners.min().item() >= floor - 1e-7
    # a softmax trained on Eq. 8 approaches the floor from above
    logits = torch.zeros(1, n_aus, requires_grad=True)
    opt = torch.optim.SGD([logits], lr=20.0)
    for _ in range(3000):
        opt.zero_grad()
        loss = gd_loss(torch.softmax(logits, -1), y)
        loss.backward()
        opt.step()
    assert floor <= loss.item() + 1e-6 and loss.item() < floor + (2e-3 if k else 1e-7)


def test_gdloss_floor_values_and_errors():
    assert gd_loss_floor(8, 1) == 0.0
    assert gd_loss_floor(8, 2) == pytest.approx(1 / 16)
    assert gd_loss_floor(8, 0) == pytest.approx(1 / 64)
    with pytest.raises(ValueError, match="n_active"):
        gd_loss_floor(4, 5)


def test_reading_gaps_helper_for_the_findings_chapter():
    gaps = miaucl_reading_gaps(seed=1)
    assert max(gaps["normalized"].values()) < 1e-10
    assert gaps["literal"]["loss_difference"] > 1e-3 and gaps["sigmoid"]["visual_grad_difference"] > 1e-6
