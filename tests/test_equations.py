"""Each equation on small hand-made tensors, the expected value computed independently here."""
import math

import numpy as np
import pytest
import torch

from microau.aus import AU_LANDMARKS, DATASET_AUS
from microau.config import make_config
from microau.losses import (
    gd_loss, global_sentence, miau_contrastive, miau_label_matrix, multitask_ce, total_loss,
)
from microau.mer import emotion_scores
from microau.model.gsd import AUHeads, GlobalDependencyAttention, PooledGlobalFeature
from microau.model.lsi import LocalAUFeatures, PatchTokenAttention
from microau.model.micro_au_clip import MicroAUCLIP, gather_prompt_features
from microau.model.per_au import PerAULinear
from microau.model.tokens import au_landmark_table, landmark_token_index


# ---- Eq. 1 -------------------------------------------------------------------------------
@pytest.mark.parametrize("grid", [(7, 7), (14, 14), (4, 6)])
def test_eq1_landmark_to_token(grid):
    h, w = grid
    H, W = 224, 224
    pts = torch.tensor([[0.0, 0.0], [223.9, 223.9], [100.0, 50.0], [-3.0, 500.0], [224.0, 10.0]])
    got = landmark_token_index(pts, (H, W), (h, w))
    expected = []
    for x, y in pts.tolist():
        row = min(max(math.floor(y * h / H), 0), h - 1)
        col = min(max(math.floor(x * w / W), 0), w - 1)
        expected.append(row * w + col)
    assert got.tolist() == expected
    # a concrete case on ViT-B/32's 7x7 grid: (x=100, y=50) -> row 1, col 3
    if grid == (7, 7):
        assert got[2].item() == 1 * 7 + 3


def test_table1_as_index_matrix():
    index, valid = au_landmark_table(DATASET_AUS["casme2"])
    assert index.shape == (8, 6)
    assert index[0].tolist() == [19, 20, 21, 22, 23, 24]
    assert index[4, :2].tolist() == [48, 54] and valid[4].tolist() == [True, True] + [False] * 4
    assert valid.sum(1).tolist() == [len(AU_LANDMARKS[a]) for a in DATASET_AUS["casme2"]]
    with pytest.raises(ValueError, match="Table I"):
        au_landmark_table((1, 6))


# ---- Eq. 2-3 PTA --------------------------------------------------------------------------
def test_pta_weights_are_softmax_of_mlp_scores():
    torch.manual_seed(0)
    pta = PatchTokenAttention(n_aus=2, width=5, hidden=3)
    region = torch.randn(2, 2, 4, 5)  # [B, N, L, d]
    valid = torch.tensor([[True, True, True, False], [True, True, True, True]])
    feat, weights = pta(region, valid)
    for n in range(2):  # each AU scored by its own MLP: Linear -> ReLU -> Linear
        w1, b1 = pta.hidden.weight[n].detach().numpy(), pta.hidden.bias[n].detach().numpy()
        w2 = pta.out.weight[n].detach().numpy()
        k = region[:, n].numpy()
        scores = (np.maximum(k @ w1 + b1, 0) @ w2)[..., 0]
        scores = np.where(valid[n].numpy(), scores, -np.inf)
        e = np.exp(scores - scores.max(1, keepdims=True))
        expected_w = e / e.sum(1, keepdims=True)
        np.testing.assert_allclose(weights[:, n].detach().numpy(), expected_w, atol=1e-6)
        np.testing.assert_allclose(feat[:, n].detach().numpy(), (expected_w[..., None] * k).sum(1), atol=1e-6)
    assert torch.all(weights[:, 0, 3] == 0)
    np.testing.assert_allclose(weights.sum(-1).detach().numpy(), 1.0, atol=1e-6)


def test_per_au_layers_are_independent():
    """AU n's output depends on AU n's input and weights only (local independence, Sec. III-B)."""
    torch.manual_seed(0)
    layer = PerAULinear(3, 4, 2)
    x = torch.randn(5, 3, 4)
    y = layer(x)
    x2 = x.clone()
    x2[:, 1] += 1.0
    y2 = layer(x2)
    torch.testing.assert_close(y2[:, [0, 2]], y[:, [0, 2]])
    assert not torch.allclose(y2[:, 1], y[:, 1])
    for n in range(3):
        torch.testing.assert_close(y[:, n], layer.forward_au(x[:, n], n))


@pytest.mark.parametrize("module", ["pta", "heads"])
def test_grouped_path_equals_per_au_loop(module):
    """The batched path (fast trainer) computes the same values and gradients as the loop."""
    torch.manual_seed(3)
    if module == "pta":
        m = PatchTokenAttention(n_aus=4, width=6, hidden=5)
        inputs = (torch.randn(3, 4, 5, 6, requires_grad=True), torch.rand(4, 5) > 0.3)
        inputs[1][:, 0] = True
    else:
        m = AUHeads(n_aus=4, width=6, hidden=5)
        inputs = (torch.randn(3, 4, 6, requires_grad=True),)
    results = []
    for grouped in (False, True):
        m.grouped = grouped
        m.zero_grad()
        inputs[0].grad = None
        out = m(*inputs)
        out = out[0] if isinstance(out, tuple) else out
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        results.append([out.detach(), inputs[0].grad.clone()] + [p.grad.clone() for p in m.parameters()])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_lsi_gathers_region_tokens_and_pools():
    # 2x2 grid, d=1: token t has value t+1; AU0 uses tokens {0, 3}, AU1 uses {1} (+ padding)
    patches = torch.tensor([[[1.0], [2.0], [3.0], [4.0]]])
    cls = torch.tensor([[9.0]])
    index = torch.tensor([[[0, 3], [1, 0]]])
    valid = torch.tensor([[True, True], [True, False]])
    mean, _ = LocalAUFeatures("meanpool", 2, 1, 4)(patches, cls, index, valid)
    assert mean.squeeze().tolist() == [2.5, 2.0]
    mx, _ = LocalAUFeatures("maxpool", 2, 1, 4)(patches, cls, index, valid)
    assert mx.squeeze().tolist() == [4.0, 2.0]
    none, _ = LocalAUFeatures("none", 2, 1, 4)(patches, cls, index, valid)
    assert none.squeeze().tolist() == [9.0, 9.0]
    proj = LocalAUFeatures("cls_proj", 2, 1, 4)
    with torch.no_grad():
        proj.cls_proj.weight.copy_(torch.tensor([[[2.0]], [[-1.0]]]))
        proj.cls_proj.bias.copy_(torch.tensor([[1.0], [0.5]]))
    per_au, w = proj(patches, cls, index, valid)
    assert per_au.squeeze().tolist() == [19.0, -8.5] and w is None  # AU n: 9 * W_n + b_n
    pta_feat, w = LocalAUFeatures("pta", 2, 1, 4)(patches, cls, index, valid)
    assert w[0, 1].tolist() == [1.0, 0.0]  # a single valid token takes all the weight
    assert pta_feat[0, 1].item() == 2.0


# ---- Eq. 4-6 GDA --------------------------------------------------------------------------
def test_gda_by_hand():
    torch.manual_seed(1)
    N, d = 3, 4
    gda = GlobalDependencyAttention(N, d)
    F = torch.randn(1, N, d)
    g, wd, A = gda(F)
    Fn = F[0].numpy()
    Wq, Wk, Wv = (m.weight.detach().numpy().T for m in (gda.query, gda.key, gda.value))
    S = (Fn @ Wq) @ (Fn @ Wk).T / math.sqrt(d)
    A_ref = np.exp(S) / np.exp(S).sum(1, keepdims=True)
    z = np.maximum(A_ref.reshape(-1) @ gda.fc.weight.detach().numpy().T + gda.fc.bias.detach().numpy(), 0)
    wd_ref = np.exp(z) / np.exp(z).sum()
    g_ref = wd_ref @ (Fn @ Wv)
    np.testing.assert_allclose(A[0].detach().numpy(), A_ref, atol=1e-6)
    np.testing.assert_allclose(wd[0].detach().numpy(), wd_ref, atol=1e-6)
    np.testing.assert_allclose(g[0].detach().numpy(), g_ref, atol=1e-5)


def test_pooled_global_feature_variants():
    torch.manual_seed(2)
    F = torch.randn(2, 3, 4)
    add = PooledGlobalFeature("add_mlp", 3, 4)
    cat = PooledGlobalFeature("cat_mlp", 3, 4)
    torch.testing.assert_close(add(F), add.mlp(F.sum(1)))
    torch.testing.assert_close(cat(F), cat.mlp(F.reshape(2, 12)))
    assert cat.mlp[0].in_features == 12 and add.mlp[0].in_features == 4


# ---- Eq. 8 GDLoss -----------------------------------------------------------------------------
def test_gdloss_by_hand():
    wd = torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    y = torch.tensor([[1, 0, 0], [0, 1, 1]])
    by_hand = (((0.5 - 1) ** 2 + 0.3**2 + 0.2**2) / 3 + (0.1**2 + 0.9**2 + 0.2**2) / 3) / 2
    assert gd_loss(wd, y).item() == pytest.approx(by_hand, rel=1e-6)


# ---- Eq. 9-11 MiAUCL ----------------------------------------------------------------------------
def _cl_by_hand(v, t, target, scale):
    """Symmetric soft-target CE with plain python loops."""
    B = len(v)
    cos = np.array([[np.dot(v[i], t[j]) / np.linalg.norm(v[i]) / np.linalg.norm(t[j]) for j in range(B)]
                    for i in range(B)]) * scale

    def ce(logits, tgt):
        loss = 0.0
        for i in range(B):
            p = np.exp(logits[i]) / np.exp(logits[i]).sum()
            q = tgt[i] / tgt[i].sum()
            loss += -(q * np.log(p)).sum()
        return loss / B

    return 0.5 * (ce(cos, target) + ce(cos.T, target.T))


def test_miaucl_batch_of_four_with_known_labels():
    rng = np.random.default_rng(0)
    B, N, D = 4, 2, 3
    v = rng.normal(size=(B, N, D))
    t = rng.normal(size=(B, N, D))
    labels = np.array([[1, 0], [0, 0], [1, 1], [0, 1]])
    scale = 10.0
    # Eq. 10 for AU0 (labels 1,0,1,0): same-label pairs are (0,2) and (1,3)
    lm0 = miau_label_matrix(torch.tensor(labels[:, 0])).numpy()
    np.testing.assert_array_equal(lm0, [[1, 0, 1, 0], [0, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 1]])
    expected = sum(
        _cl_by_hand(v[:, n], t[:, n], (labels[:, n][:, None] == labels[:, n][None]).astype(float), scale)
        for n in range(N)
    )
    got = miau_contrastive(torch.tensor(v), torch.tensor(t), torch.tensor(labels), torch.tensor(scale))
    assert got.item() == pytest.approx(expected, rel=1e-6)
    local = miau_contrastive(torch.tensor(v), torch.tensor(t), torch.tensor(labels), torch.tensor(scale),
                             diagonal_targets=True)
    expected_local = sum(_cl_by_hand(v[:, n], t[:, n], np.eye(B), scale) for n in range(N))
    assert local.item() == pytest.approx(expected_local, rel=1e-6)
    assert got.item() != pytest.approx(local.item())


def test_multitask_ce_is_sum_over_aus():
    logits = torch.tensor([[[2.0, 0.0], [0.0, 1.0]], [[0.5, 0.5], [1.0, -1.0]]])
    y = torch.tensor([[0, 1], [1, 0]])

    def ce(l, k):
        return -(l[k] - math.log(math.exp(l[0]) + math.exp(l[1])))

    au0 = (ce([2.0, 0.0], 0) + ce([0.5, 0.5], 1)) / 2
    au1 = (ce([0.0, 1.0], 1) + ce([1.0, -1.0], 0)) / 2
    assert multitask_ce(logits, y).item() == pytest.approx(au0 + au1, rel=1e-6)


def test_global_sentence():
    assert global_sentence((4, 12), [1, 1]) == "The eyebrows are lowering, and the lip corners are pulling up"
    assert global_sentence((4, 12), [0, 0]) == "No facial action is visible"


# ---- Eq. 12 ---------------------------------------------------------------------------------------
def test_total_loss_weights_follow_config(tiny_clip_factory):
    torch.manual_seed(3)
    cfg = make_config("smoke", "full", dataset="phantom-casme2", alpha=0.3, beta=0.7)
    model = MicroAUCLIP(cfg, clip=tiny_clip_factory(4))
    y = torch.tensor([[1, 0, 1, 0, 0, 0, 1, 1], [0, 0, 1, 1, 0, 1, 0, 0], [1, 1, 0, 0, 1, 0, 0, 0]])
    out = model(torch.randn(3, 3, 224, 224), torch.rand(3, 68, 2) * 224)
    text = gather_prompt_features(model.prompt_features(), y)
    parts = total_loss(cfg, out, y, text, model.logit_scale.exp())
    expected = parts.multitask + 0.3 * parts.contrastive + 0.7 * parts.dependency
    torch.testing.assert_close(parts.total, expected)
    assert parts.contrastive.item() > 0 and parts.dependency.item() > 0
    # the variants switch terms off through configuration
    no_cl = make_config("smoke", "table8/no_cl", dataset="phantom-casme2")
    assert no_cl.loss_weights[0] == 0.0
    assert make_config("smoke", "table7/add_mlp", dataset="phantom-casme2").loss_weights[1] == 0.0
    assert make_config("smoke", "full", dataset="phantom-samm").loss_weights == (1.0, 0.6)
    assert make_config("smoke", "full", dataset="casme2").loss_weights == (0.6, 1.0)


def test_gather_prompt_features_picks_label_prompt():
    prompts = torch.arange(2 * 3 * 1, dtype=torch.float).view(3, 2, 1)  # value = 2n + label
    y = torch.tensor([[1, 0, 1], [0, 0, 0]])
    got = gather_prompt_features(prompts, y).squeeze(-1)
    assert got.tolist() == [[1.0, 2.0, 5.0], [0.0, 2.0, 4.0]]


# ---- Eq. 13 -----------------------------------------------------------------------------------
def test_mer_scores_by_hand():
    aus = (1, 2, 12)  # surprise = {1, 2}, positive = {12}, negative = none of these
    rng = np.random.default_rng(5)
    feats = rng.normal(size=(2, 3, 4))
    prompts = rng.normal(size=(3, 2, 4))
    got = emotion_scores(torch.tensor(feats), torch.tensor(prompts), aus, ("negative", "positive", "surprise"))
    cos = lambda a, b: float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))  # noqa: E731
    sets = {"negative": (), "positive": (12,), "surprise": (1, 2)}
    for b in range(2):
        for r, name in enumerate(("negative", "positive", "surprise")):
            s = sum(cos(feats[b, n], prompts[n, int(a in sets[name])]) for n, a in enumerate(aus))
            assert got[b, r].item() == pytest.approx(s, rel=1e-6)


# ---- shapes and a tiny end-to-end step ------------------------------------------------------------
@pytest.mark.parametrize("dataset,n_aus", [("phantom-casme2", 8), ("phantom-samm", 4)])
@pytest.mark.parametrize("variant", ["full", "table2/gsd_only", "table7/cat_mlp", "table6/maxpool",
                                     "table8/global_origcl", "table8/no_cl", "readings/miaucl_sigmoid",
                                     "readings/miaucl_normalized", "readings/gsd_only_cls_token"])
def test_shapes_and_backward(tiny_clip_factory, dataset, n_aus, variant):
    torch.manual_seed(0)
    cfg = make_config("smoke", variant, dataset=dataset)
    model = MicroAUCLIP(cfg, clip=tiny_clip_factory(5))
    B = 4
    out = model(torch.randn(B, 3, 224, 224), torch.rand(B, 68, 2) * 224)
    assert out.logits.shape == (B, n_aus, 2) and out.au_features.shape == (B, n_aus, 32)
    assert out.probs.shape == (B, n_aus)
    if cfg.gsd == "gda":
        assert out.dependency.shape == (B, n_aus) and out.attention.shape == (B, n_aus, n_aus)
    y = torch.randint(0, 2, (B, n_aus))
    if cfg.contrastive == "global":
        text = model.encode_texts([global_sentence(model.aus, r) for r in y.tolist()])
    elif cfg.uses_text:
        text = gather_prompt_features(model.prompt_features(), y)
    else:
        text = None
    parts = total_loss(cfg, out, y, text, model.logit_scale.exp())
    parts.total.backward()
    assert torch.isfinite(parts.total)
    assert all(p.grad is not None for p in model.heads.parameters())


def test_balanced_class_weights_follow_scikit_learn():
    from sklearn.utils.class_weight import compute_class_weight

    from microau.losses import balanced_class_weights

    labels = torch.tensor([[1, 0, 0], [0, 0, 0], [0, 1, 0], [0, 0, 0], [1, 0, 0]])
    w = balanced_class_weights(labels)
    for n in range(2):
        expected = compute_class_weight("balanced", classes=np.array([0, 1]), y=labels[:, n].numpy())
        np.testing.assert_allclose(w[n].numpy(), expected, rtol=1e-6)
    assert w[2].tolist() == [1.0, 1.0]  # one class only: nothing to balance


def test_weighted_multitask_ce_by_hand():
    from microau.losses import multitask_ce

    logits = torch.tensor([[[0.0, 1.0], [2.0, 0.0]], [[1.0, 0.0], [0.0, 0.0]]])  # [B=2, N=2, 2]
    labels = torch.tensor([[1, 0], [1, 1]])
    w = torch.tensor([[0.5, 2.0], [1.0, 3.0]])
    nll = -torch.log_softmax(logits, -1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    by_hand = ((nll[0, 0] * 2.0 + nll[1, 0] * 2.0) / 2) + ((nll[0, 1] * 1.0 + nll[1, 1] * 3.0) / 2)
    assert float(multitask_ce(logits, labels, w)) == pytest.approx(float(by_hand), rel=1e-6)
    assert float(multitask_ce(logits, labels)) == pytest.approx(float(nll.mean(0).sum()), rel=1e-6)


def test_permuted_prompts_name_another_au_and_keep_the_set():
    from microau.aus import AU_PROMPTS
    from microau.config import make_config
    from microau.model.micro_au_clip import MicroAUCLIP

    paper = MicroAUCLIP(make_config("smoke", "full", dataset="phantom-samm"))
    permuted = MicroAUCLIP(make_config("smoke", "full", dataset="phantom-samm", prompts="permuted"))
    assert paper.prompts()[:2] == [AU_PROMPTS[2][1], AU_PROMPTS[2][0]]
    assert sorted(paper.prompts()) == sorted(permuted.prompts())
    for n, au in enumerate(permuted.aus):
        assert permuted.prompts()[2 * n + 1] != AU_PROMPTS[au][0]
