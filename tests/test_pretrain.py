"""The phantom-pretrained backbone: corpus disjointness, rendering, the contrastive loss, the cache."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from microau.data import phantom as ph
from microau.losses import global_sentence
from microau.pretrain import checkpoint as ck
from microau.pretrain import corpus as cp
from microau.pretrain.contrastive import PretrainSettings, clip_loss
from microau.pretrain.render import render_flow, render_flow_image
from microau.prep.flow import decode_flow_image

SMALL = cp.CorpusSettings(n_pairs=24, identities_per_seed=1)


@pytest.fixture(scope="module")
def identities():
    return cp.make_identities(SMALL)


# ----------------------------------------------------------------------------- disjointness
def test_corpus_refuses_the_evaluation_seed():
    with pytest.raises(ValueError, match="evaluation phantom's seed"):
        cp.CorpusSettings(identity_seeds=(cp.EVALUATION_SEED, 5))


def test_evaluation_sets_use_the_evaluation_seed(monkeypatch, tmp_path):
    """load_train_data writes the phantom it evaluates on with EVALUATION_SEED."""
    from microau.config import make_config
    from microau.train import data as td

    seen = {}

    def fake(like, seed=0, n_subjects=None, progress=True):
        seen["seed"] = seed
        raise RuntimeError("stop")

    monkeypatch.setattr(ph, "ensure_phantom", fake)
    with pytest.raises(RuntimeError, match="stop"):
        td.load_train_data(make_config("smoke"), progress=False)
    assert seen["seed"] == cp.EVALUATION_SEED


def test_corpus_identities_are_not_evaluation_subjects(identities):
    """Same like and subject index, other seed: another base photo draw, warp and pose."""
    assert {i.seed for i in identities}.isdisjoint({cp.EVALUATION_SEED})
    st = ph.PhantomSettings()
    for ident in identities:
        ev = ph.make_subject(ident.like, cp.EVALUATION_SEED, ident.index, st)
        mine = ph.make_subject(ident.like, ident.seed, ident.index, st)
        lm_ev, _ = cp.landmarks_in_crop(ev.landmarks, ev.box, SMALL)
        assert np.allclose(cp.landmarks_in_crop(mine.landmarks, mine.box, SMALL)[0], ident.landmarks)
        # shapes differ by more than a pixel on average (a warp, not rounding)
        assert np.abs(lm_ev - ident.landmarks).mean() > 1.0


def test_corpus_streams_cannot_be_phantom_streams():
    """Phantom streams start [seed, like code, ...]; corpus streams [CORPUS_STREAM, ...]."""
    from microau.data.phantom.settings import _LIKE_CODE, phantom_rng

    assert cp.CORPUS_STREAM not in _LIKE_CODE.values()
    assert cp.CORPUS_STREAM != cp.EVALUATION_SEED
    a = cp.clip_rng(SMALL.seed, 3).random(4)
    b = phantom_rng(cp.EVALUATION_SEED, "casme2", 4, 0, 3).random(4)
    assert not np.allclose(a, b)


# ----------------------------------------------------------------------------- corpus and rendering
def test_clip_draws_do_not_depend_on_corpus_size(identities):
    small = list(cp.draw_clips(SMALL, identities))
    big = list(cp.draw_clips(dataclasses.replace(SMALL, n_pairs=40), identities))
    assert [c.sentence for c in small] == [c.sentence for c in big[:24]]
    assert all(c.amplitude_frame_px == d.amplitude_frame_px for c, d in zip(small, big))


def test_caption_is_the_method_prompt_family():
    assert cp.caption((7, 4)) == global_sentence((4, 7), [1, 1])
    assert cp.caption((4, 43)) == global_sentence((4,), [1])  # AU43 has no prompt: not described
    assert cp.caption(()) == "No facial action is visible"


def _clip(aus, identity=0, amp=1.5):
    return cp.CorpusClip(identity, tuple(aus), {}, {a: amp for a in aus}, (0.0, 0.0, 0.0, 0.0),
                         cp.caption(aus), cp.au_sentences(aus))


def test_motion_lands_on_the_au_region(identities):
    quiet = dataclasses.replace(SMALL, tvl1_noise_px_range=(0.0, 0.0), crop_jitter_px=0.0, crop_scale_sd=0.0)
    ident = identities[0]
    flow, lm = render_flow(_clip([12]), ident, np.random.default_rng(0), quiet)
    mag = np.hypot(flow[..., 0], flow[..., 1])
    at = lambda i: mag[int(round(lm[i, 1])), int(round(lm[i, 0]))]  # noqa: E731
    assert min(at(48), at(54)) > 0.5  # lip corners move
    assert max(at(19), at(24), at(8)) < 0.02  # brows and chin do not
    # AU12 pulls the corners up (y decreases) in image coordinates
    assert flow[int(round(lm[48, 1])), int(round(lm[48, 0])), 1] < 0


def test_coarse_render_matches_full_resolution(identities):
    quiet = dataclasses.replace(SMALL, tvl1_noise_px_range=(0.0, 0.0))
    clip = _clip([1, 4, 14])
    f1, _ = render_flow(clip, identities[1], np.random.default_rng(5), quiet, step=1)
    f2, _ = render_flow(clip, identities[1], np.random.default_rng(5), quiet, step=2)
    assert np.abs(f1).max() > 1.0
    assert np.abs(f1 - f2).max() < 0.05 * np.abs(f1).max()


def test_flow_image_uses_the_preparation_encoding(identities):
    clip = _clip([2])
    img = render_flow_image(clip, identities[0], np.random.default_rng(1), SMALL)
    flow, _ = render_flow(clip, identities[0], np.random.default_rng(1), SMALL)
    assert img.dtype == np.uint8 and img.shape == (224, 224, 3)
    assert np.abs(decode_flow_image(img, SMALL.flow_scale) - flow).max() <= 0.5 / SMALL.flow_scale + 1e-6


def test_noise_rms_is_as_set():
    from microau.pretrain.render import tvl1_like_noise

    n = tvl1_like_noise(np.random.default_rng(0), 112, 0.1, 1.5)
    assert n.shape == (112, 112, 2) and abs(n.std() - 0.1) < 1e-3


# ----------------------------------------------------------------------------- loss
def test_clip_loss_equals_clip_with_distinct_sentences():
    g = torch.Generator().manual_seed(0)
    img, txt = torch.randn(6, 8, generator=g), torch.randn(6, 8, generator=g)
    scale = torch.tensor(2.0)
    logits = scale.exp() * F.normalize(img, dim=-1) @ F.normalize(txt, dim=-1).t()
    target = torch.arange(6)
    plain = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))
    assert torch.allclose(clip_loss(img, txt, target, scale), plain, atol=1e-6)


def test_clip_loss_shares_repeated_sentences():
    txt = torch.eye(3)
    img = torch.eye(3)[[0, 0, 1, 2]]  # two images of sentence 0
    low = clip_loss(img, txt, torch.tensor([0, 0, 1, 2]), torch.tensor(4.6))
    wrong = clip_loss(img, txt, torch.tensor([1, 0, 2, 0]), torch.tensor(4.6))
    # the text -> image target of sentence 0 is uniform over its two images: the loss cannot go
    # below that target's entropy, log 2, averaged over 3 sentences and halved
    floor = 0.5 * np.log(2) / 3
    assert floor <= float(low) < floor + 0.01
    assert float(wrong) > float(low) + 1.0


# ----------------------------------------------------------------------------- checkpoint cache
TINY = PretrainSettings(corpus=cp.CorpusSettings(n_pairs=32, identities_per_seed=1), batch_size=16, epochs=1,
                        warmup_steps=1)


def test_pretrain_writes_an_open_clip_checkpoint_and_reuses_it(tmp_path, monkeypatch):
    from microau.model.backbone import load_clip
    from microau.pretrain import contrastive

    monkeypatch.setenv("MICROAU_CACHE", str(tmp_path))
    path = ck.ensure_backbone("microau-tiny", progress=False, settings=TINY)
    assert path.parent == tmp_path / "pretrained" and path.suffix == ".pt"
    assert not list(path.parent.glob("*.partial"))
    record = json.loads(path.with_suffix(".json").read_text())
    assert record["report"]["pairs"] == 32 and record["report"]["steps"] == 2
    assert record["label"] == "phantom, phantom-pretrained backbone"
    # loaded through open_clip's pretrained=<path> path, equal to the saved tensors
    clip = load_clip("microau-tiny", str(path))
    saved = torch.load(path, weights_only=True)
    assert all(torch.equal(v, saved[k]) for k, v in clip.state_dict().items())
    fresh = load_clip("microau-tiny", None)
    assert not torch.equal(fresh.visual.conv1.weight, clip.visual.conv1.weight)
    # reused without training again
    monkeypatch.setattr(contrastive, "pretrain_clip", lambda *a, **k: pytest.fail("pretrained twice"))
    monkeypatch.setattr(ck, "pretrain_clip", lambda *a, **k: pytest.fail("pretrained twice"))
    assert ck.ensure_backbone("microau-tiny", progress=False, settings=TINY) == path
    assert ck.resolve_pretrained("microau-tiny", "openai") == "openai"


def test_a_damaged_checkpoint_is_not_used(tmp_path, monkeypatch, tiny_clip_factory):
    monkeypatch.setenv("MICROAU_CACHE", str(tmp_path))
    calls = []

    def fake(model, settings, progress=True):
        calls.append(model)
        return tiny_clip_factory(len(calls)).state_dict(), {"pairs": 0, "steps": 0, "total_s": 0.0}

    monkeypatch.setattr(ck, "pretrain_clip", fake)
    path = ck.ensure_backbone("microau-tiny", progress=False, settings=TINY)
    assert ck.is_valid(path) and len(calls) == 1
    with open(path, "r+b") as fh:
        fh.seek(200)
        fh.write(b"\0\1\2\3")
    assert not ck.is_valid(path)
    ck.ensure_backbone("microau-tiny", progress=False, settings=TINY)
    assert len(calls) == 2 and ck.is_valid(path)


def test_key_follows_every_setting():
    base = ck.checkpoint_path("microau-tiny", TINY)
    assert ck.checkpoint_path("microau-tiny", dataclasses.replace(TINY, lr=5e-3)) != base
    corpus = dataclasses.replace(TINY.corpus, tvl1_noise_sigma_px=2.0)
    assert ck.checkpoint_path("microau-tiny", dataclasses.replace(TINY, corpus=corpus)) != base
    assert ck.checkpoint_path("microau-small", TINY) != base
    assert ck.checkpoint_path("microau-tiny", TINY) == base


def test_default_corpus_has_ten_thousand_pairs():
    assert cp.CorpusSettings().n_pairs >= 10_000


def test_quick_profile_uses_the_phantom_backbone_and_scratch_does_not():
    from microau.config import make_config

    quick = make_config("quick")
    assert quick.pretrained == ck.PHANTOM_TAG and quick.clip_model == "microau-tiny14"
    assert make_config("quick-scratch").pretrained is None
    assert make_config("smoke").pretrained is None


def test_results_know_their_backbone(tmp_path, monkeypatch, tiny_clip_factory):
    from microau.config import make_config

    monkeypatch.setenv("MICROAU_CACHE", str(tmp_path))
    monkeypatch.setattr(ck, "pretrain_clip", lambda m, s, progress=True: (
        tiny_clip_factory(0).state_dict(), {"pairs": 0, "steps": 0, "total_s": 0.0}))
    path = ck.ensure_backbone("microau-tiny", progress=False, settings=TINY)
    quick = make_config("quick", dataset="phantom-samm")
    assert ck.backbone_label(quick) == "phantom, phantom-pretrained backbone"
    assert ck.backbone_label(quick.replace(pretrained=str(path))) == "phantom, phantom-pretrained backbone"
    assert ck.backbone_label(make_config("quick-scratch")) == "phantom, random-init backbone"
    other = tmp_path / "someone_elses.pt"
    other.write_bytes(b"x")
    assert ck.backbone_label(quick.replace(pretrained=str(other))) != "phantom, phantom-pretrained backbone"


def test_multi_positive_loss_rewards_every_true_sentence():
    from microau.pretrain.contrastive import multi_positive_clip_loss

    txt = torch.eye(3)
    pos = torch.tensor([[True, True, False], [False, False, True]])
    both = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # image 0 between its two sentences
    one = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # image 0 on one of them only
    scale = torch.tensor(3.0)
    assert float(multi_positive_clip_loss(both, txt, pos, scale)) < float(multi_positive_clip_loss(one, txt, pos, scale))


def test_per_au_sentences_are_the_method_prompts():
    from microau.aus import AU_PROMPTS

    assert cp.au_sentences((12, 4)) == (AU_PROMPTS[4][0], AU_PROMPTS[12][0])
    assert cp.au_sentences((43,)) == (cp.NO_ACTION,)


def test_pretrained_key_follows_the_checkpoint_settings():
    assert ck.pretrained_key("microau-tiny", None) is None
    assert ck.pretrained_key("microau-tiny", "openai") == "openai"
    key = ck.pretrained_key("microau-tiny", ck.PHANTOM_TAG)
    assert key.startswith(ck.PHANTOM_TAG + ":") and key.endswith(ck.checkpoint_key("microau-tiny", PretrainSettings()))


def test_pretrain_settings_refuse_unknown_choices():
    with pytest.raises(ValueError, match="image_pool"):
        PretrainSettings(image_pool="max")
    with pytest.raises(ValueError, match="targets"):
        PretrainSettings(targets="each")
    with pytest.raises(ValueError, match="epochs"):
        PretrainSettings(epochs=0)


def test_image_pool_decides_what_pretraining_matches_to_the_sentences():
    """'avg' pretrains on the mean patch token, so the same seed and corpus give other weights;
    the key names the choice, so the two never share a cache file."""
    from microau.pretrain.contrastive import pretrain_clip

    tok, _ = pretrain_clip("microau-tiny", TINY, progress=False)
    avg_settings = dataclasses.replace(TINY, image_pool="avg")
    avg, _ = pretrain_clip("microau-tiny", avg_settings, progress=False)
    again, _ = pretrain_clip("microau-tiny", TINY, progress=False)
    assert all(torch.equal(tok[k], again[k]) for k in tok)
    assert not torch.equal(tok["visual.conv1.weight"], avg["visual.conv1.weight"])
    assert ck.checkpoint_key("microau-tiny", TINY) != ck.checkpoint_key("microau-tiny", avg_settings)


# ----------------------------------------------------------------------------- batched pretraining
def test_masked_clip_loss_equals_the_loss_on_the_used_sentences():
    from microau.pretrain.batched import masked_clip_loss
    from microau.pretrain.contrastive import multi_positive_clip_loss

    g = torch.Generator().manual_seed(1)
    img, txt = torch.randn(5, 8, generator=g, dtype=torch.float64), torch.randn(7, 8, generator=g, dtype=torch.float64)
    used = torch.tensor([True, False, True, True, False, True, True])
    pos = torch.zeros(5, 7, dtype=torch.bool)
    pos[[0, 1, 2, 3, 4, 0, 4], [0, 2, 3, 5, 6, 6, 0]] = True
    scale = torch.tensor(2.0, dtype=torch.float64)
    a = masked_clip_loss(img, txt, pos, used, scale)
    b = multi_positive_clip_loss(img, txt[used], pos[:, used], scale)
    assert abs(float(a) - float(b)) < 1e-14


@pytest.mark.parametrize("local_weight", [0.0, 1.0])
def test_pretraining_seeds_together_equals_each_seed_alone(monkeypatch, local_weight):
    """Each seed's own init, batch order and AdamW state: in float64 the stacked training gives
    every seed the weights it gets alone, to rounding error (with and without the local term)."""
    from microau.model import backbone
    from microau.pretrain.batched import pretrain_clips
    from microau.pretrain.contrastive import pretrain_clip

    plain = backbone.flow_images_to_tensor
    monkeypatch.setattr(backbone, "flow_images_to_tensor", lambda *a, **k: plain(*a, **k).double())
    settings = [dataclasses.replace(TINY, epochs=3, seed=s, local_weight=local_weight) for s in (0, 3)]
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        together = pretrain_clips("microau-tiny", settings, progress=False)
        alone = [pretrain_clip("microau-tiny", s, progress=False) for s in settings]
    finally:
        torch.set_default_dtype(previous)
    for (state, report), (ref, ref_report) in zip(together, alone):
        assert report["steps"] == ref_report["steps"] == 6
        assert abs(report["loss_first"] - ref_report["loss_first"]) < 1e-12
        assert abs(report["loss_last_10"] - ref_report["loss_last_10"]) < 1e-9
        assert set(state) == set(ref)
        for k in ref:
            torch.testing.assert_close(state[k], ref[k], rtol=0, atol=1e-9, msg=k)
    assert not torch.equal(together[0][0]["visual.conv1.weight"], together[1][0]["visual.conv1.weight"])


def test_ensure_backbones_pretrains_the_missing_seeds_together(tmp_path, monkeypatch):
    from microau.pretrain import batched

    monkeypatch.setenv("MICROAU_CACHE", str(tmp_path))
    paths = ck.ensure_backbones("microau-tiny", [0, 3], progress=False, settings=TINY)
    assert [p.name for p in paths] == [ck.checkpoint_path("microau-tiny", dataclasses.replace(TINY, seed=s)).name
                                       for s in (0, 3)]
    for p in paths:
        assert ck.is_valid(p)
        assert json.loads(p.with_suffix(".json").read_text())["report"]["batched_seeds"] == [0, 3]
    # reused; a lone missing seed goes through ensure_backbone (the single trainer)
    monkeypatch.setattr(batched, "pretrain_clips", lambda *a, **k: pytest.fail("pretrained twice"))
    calls = []
    monkeypatch.setattr(ck, "pretrain_clip", lambda m, s, progress=True: (
        calls.append(s.seed) or load_tiny_state(), {"pairs": 0, "steps": 0, "total_s": 0.0}))
    assert ck.ensure_backbones("microau-tiny", [3, 0, 5], progress=False, settings=TINY)[:2] == paths[::-1]
    assert calls == [5]


def load_tiny_state():
    from microau.model.backbone import load_clip

    return load_clip("microau-tiny", None).state_dict()


# ----------------------------------------------------------------------------- the local term
def test_local_term_is_the_per_au_mean_of_landmark_tokens_against_its_prompts():
    """local_au_loss with local_token_weights equals the plain loop: per AU, gather the tokens at
    its Table I landmarks (Eq. 1), average, project, 2-way scaled-cosine CE against its prompts."""
    import torch.nn.functional as F

    from microau.aus import AU_LANDMARKS
    from microau.model.tokens import landmark_token_index
    from microau.pretrain.contrastive import LOCAL_AUS, local_au_loss, local_token_weights

    g = torch.Generator().manual_seed(0)
    B, T, d, E, N = 3, 49, 6, 5, len(LOCAL_AUS)
    tokens = torch.randn(B, T, d, generator=g, dtype=torch.float64)
    landmarks = torch.rand(B, 68, 2, generator=g, dtype=torch.float64) * 112
    index = landmark_token_index(landmarks, (112, 112), (7, 7))
    labels = torch.randint(0, 2, (B, N), generator=g)
    proj = torch.randn(d, E, generator=g, dtype=torch.float64)
    prompts = torch.randn(N, 2, E, generator=g, dtype=torch.float64)
    scale = torch.tensor(1.7, dtype=torch.float64)
    got = local_au_loss(tokens, local_token_weights(index, T), labels, proj, prompts, scale)
    total = 0.0
    for n, au in enumerate(LOCAL_AUS):
        at = index[:, list(AU_LANDMARKS[au])]
        feat = torch.stack([tokens[b, at[b]].mean(0) for b in range(B)]) @ proj
        logits = scale.exp() * F.normalize(feat, dim=-1) @ F.normalize(prompts[n], dim=-1).t()
        total = total + F.cross_entropy(logits, labels[:, n])
    torch.testing.assert_close(got, total / N, rtol=0, atol=1e-12)
    # and it is a real signal: labels flipped give another loss
    assert abs(float(local_au_loss(tokens, local_token_weights(index, T), 1 - labels, proj, prompts, scale))
               - float(got)) > 1e-3


def test_corpus_arrays_scale_landmarks_with_the_image():
    from microau.pretrain.contrastive import corpus_arrays

    full = corpus_arrays(TINY, 224, progress=False)
    half = corpus_arrays(TINY, 112, progress=False)
    assert half.images.shape == (32, 112, 112, 3) and full.images.shape == (32, 224, 224, 3)
    np.testing.assert_allclose(half.landmarks, full.landmarks * 0.5, rtol=1e-6)
    assert half.labels.shape == (32, 8) and half.labels.sum() > 0
    # area averaging: the half-size image is the 2x2 mean of the full one (to uint8 rounding)
    mean = full.images.reshape(32, 112, 2, 112, 2, 3).astype(float).mean((2, 4))
    assert np.abs(half.images - mean).max() <= 1.0


def test_plateau_check_tells_a_flat_curve_from_a_falling_one():
    from microau.pretrain.contrastive import plateau_check

    assert plateau_check([1.0] * 100)["flat"]
    assert not plateau_check(list(np.linspace(2.0, 1.0, 100)))["flat"]
    assert plateau_check(list(np.linspace(2.0, 1.0, 50)) + [1.0] * 50)["flat"]


def test_init_ulps_moves_one_weight_by_one_representable_step():
    from microau.model.backbone import load_clip
    from microau.pretrain.contrastive import nudge_by_ulps

    torch.manual_seed(0)
    a = load_clip("microau-tiny", None)
    torch.manual_seed(0)
    b = load_clip("microau-tiny", None)
    nudge_by_ulps(b, 1)
    wa, wb = a.visual.conv1.weight.view(-1), b.visual.conv1.weight.view(-1)
    assert wb[0] > wa[0] and torch.equal(wa[1:], wb[1:])
    assert torch.nextafter(wa[0], torch.tensor(float("inf"))) == wb[0]
    assert ck.checkpoint_key("microau-tiny", TINY) != ck.checkpoint_key(
        "microau-tiny", dataclasses.replace(TINY, init_ulps=1))
