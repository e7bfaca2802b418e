"""The frozen-prefix split and the truncated text context compute exactly what open_clip does."""
import pytest
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


def _block_outputs_and_grads(block, x, mask, flat):
    from microau.model.blocks import flat_block_forward

    block.zero_grad()
    x = x.clone().requires_grad_(True)
    y = flat_block_forward(block, x, mask) if flat else block(x, attn_mask=mask)
    (y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
    return [y.detach(), x.grad] + [p.grad.clone() for p in block.parameters()]


def test_flat_block_equals_open_clip_block(tiny_clip_factory):
    """The fast path's transformer block: same outputs and gradients as open_clip's block."""
    from microau.model.blocks import supports_flat_forward

    clip = tiny_clip_factory(3)
    cases = [
        (clip.visual.transformer.resblocks[-1], torch.randn(4, 50, 64), None),
        (clip.transformer.resblocks[-1], torch.randn(5, 11, 64), clip.attn_mask[:11, :11]),  # causal
    ]
    for block, x, mask in cases:
        assert supports_flat_forward(block)
        ref = _block_outputs_and_grads(block, x, mask, flat=False)
        fast = _block_outputs_and_grads(block, x, mask, flat=True)
        for a, b in zip(ref, fast):
            torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-5)


def test_fast_path_model_equals_plain_model(tiny_clip_factory):
    cfg = make_config("smoke", "full", dataset="phantom-casme2")
    model = MicroAUCLIP(cfg, clip=tiny_clip_factory(4))
    images, landmarks = torch.randn(3, 3, 224, 224), torch.rand(3, 68, 2) * 224
    plain = model(images, landmarks)
    plain_text = model.prompt_features()
    model.use_fast_path()
    fast = model(images, landmarks)
    for name in ("logits", "au_features", "token_weights", "dependency", "attention"):
        torch.testing.assert_close(getattr(fast, name), getattr(plain, name), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(model.prompt_features(), plain_text, atol=1e-5, rtol=1e-5)
    assert model.visual.flat_blocks and model.heads.grouped and model.local.pta.grouped


@pytest.mark.parametrize("variant", ["full", "table6/meanpool", "table6/maxpool", "table2/gsd_only",
                                     "readings/gsd_only_cls_token"])
def test_sparse_last_block_equals_the_full_suffix(tiny_clip_factory, variant):
    """The last visual block computed only where LSI (or the class-token readings) reads it, the
    last text block only at the end-of-text tokens: same outputs and same gradients as the full
    suffixes, to float64 rounding."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        cfg = make_config("smoke", variant, dataset="phantom-casme2")
        model = MicroAUCLIP(cfg, clip=tiny_clip_factory(5)).use_fast_path()
        g = torch.Generator().manual_seed(0)
        prefix, landmarks = torch.randn(4, 50, 64, generator=g), torch.rand(4, 68, 2, generator=g) * 224
        weights = torch.linspace(-1, 1, 4 * 8 * 2).view(4, 8, 2)

        def run(sparse):
            model.zero_grad()
            model.use_sparse_last_block(landmarks if sparse else None)
            out = model.forward_from_prefix(prefix, landmarks)
            prompts = model.prompt_features()
            ((out.logits * weights).sum() + out.au_features.square().sum() + prompts.sin().sum()).backward()
            out.prompts = prompts
            return out, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

        full, full_grads = run(False)
        sparse, sparse_grads = run(True)
    finally:
        torch.set_default_dtype(previous)
    assert model.keep_tokens == 1 if not cfg.uses_landmarks else 1 < model.keep_tokens < 50
    assert model.text.sparse_last_block
    for name in ("logits", "au_features", "token_weights", "dependency", "attention", "prompts"):
        a, b = getattr(full, name), getattr(sparse, name)
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(b, a, rtol=0, atol=1e-12)
    assert set(full_grads) == set(sparse_grads)
    for n in full_grads:
        torch.testing.assert_close(sparse_grads[n], full_grads[n], rtol=1e-10, atol=1e-11, msg=n)
