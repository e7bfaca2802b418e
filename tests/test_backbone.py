"""The frozen-prefix split and the truncated text context compute exactly what open_clip does."""
import torch

from microau.config import make_config
from microau.model.backbone import TextTower, VisualTower, freeze_for_finetuning
from microau.model.micro_au_clip import MicroAUCLIP


def test_visual_prefix_plus_suffix_equals_full_forward(tiny_clip_factory):
    clip = tiny_clip_factory(0).eval()
    images = torch.randn(3, 3, 224, 224)
    pooled_ref, tokens_ref = clip.visual(images)  # open_clip's own forward
    for k in (0, 1, 3, 4):
        tower = VisualTower(clip, k)
        cls, patches = tower.suffix(tower.prefix(images))
        assert patches.shape == (3, 7, 7, 64)
        torch.testing.assert_close(patches.reshape(3, 49, 64), tokens_ref, atol=1e-5, rtol=0)
        torch.testing.assert_close(tower.project(cls), pooled_ref, atol=1e-5, rtol=0)


def test_text_truncated_context_equals_full_context(tiny_clip_factory):
    import open_clip

    clip = tiny_clip_factory(1).eval()
    tokenizer = open_clip.get_tokenizer("microau-tiny")
    tokens = tokenizer(["The eyebrows are lowering", "The chin is not raising", "a"])
    reference = clip.encode_text(tokens)  # open_clip, 77 positions
    for k in (0, 2, 4):
        tower = TextTower(clip, k)
        n = tower.context_needed(tokens)
        assert n < 77
        torch.testing.assert_close(tower(tokens, truncate=True), reference, atol=1e-5, rtol=0)
        torch.testing.assert_close(tower(tokens, truncate=False), reference, atol=1e-5, rtol=0)


def test_only_last_blocks_and_new_modules_get_gradients(tiny_clip_factory):
    cfg = make_config("smoke", "full", dataset="phantom-casme2")
    model = MicroAUCLIP(cfg, clip=tiny_clip_factory(2))
    out = model(torch.randn(2, 3, 224, 224), torch.rand(2, 68, 2) * 224)
    text = model.prompt_features()
    (out.logits.sum() + out.au_features.sum() + text.sum()).backward()
    n_vis = len(model.visual.visual.transformer.resblocks)
    n_txt = len(model.text.transformer.resblocks)
    for name, p in model.named_parameters():
        trainable_block = any(
            name.startswith(f"{prefix}.{i}.")
            for prefix, first, last in (
                ("visual.visual.transformer.resblocks", n_vis - cfg.visual_trainable_blocks, n_vis),
                ("text.transformer.resblocks", n_txt - cfg.text_trainable_blocks, n_txt),
            )
            for i in range(first, last)
        )
        new_module = name.startswith(("local.", "dependency.", "heads."))
        assert p.requires_grad == (trainable_block or new_module), name
        if p.requires_grad:
            assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reached {name}"
        else:
            assert p.grad is None, f"frozen parameter {name} got a gradient"
    groups = {g["name"]: g for g in model.param_groups()}
    assert groups["clip"]["lr"] == 1e-3 and groups["new"]["lr"] == 1e-2
    n_in_groups = sum(len(g["params"]) for g in groups.values())
    assert n_in_groups == sum(1 for p in model.parameters() if p.requires_grad)


def test_fixed_text_encoder_has_no_trainable_text_parameters(tiny_clip_factory):
    cfg = make_config("smoke", "table3/text_fixed", dataset="phantom-casme2")
    model = MicroAUCLIP(cfg, clip=tiny_clip_factory(3))
    assert not any(p.requires_grad for p in model.text.parameters())
    assert any(p.requires_grad for p in model.visual.parameters())


def test_freeze_rejects_more_blocks_than_the_tower_has(tiny_clip_factory):
    import pytest

    with pytest.raises(ValueError, match="has 4"):
        freeze_for_finetuning(tiny_clip_factory(0), 5, 0)
