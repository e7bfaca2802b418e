"""CLIP weights: 'openai' from the hub cache or one clear line, a local file checked against the
architecture before training, and a random ViT-B/32 file through a paper-profile LOSO."""
import time

import pytest
import torch

from microau.model.backbone import load_clip
from microau.model.weights import (PretrainedSource, WeightsUnavailable, cached_tag_file, hub_location,
                                   resolve_pretrained)

OPENAI_REPO = "timm/vit_base_patch32_clip_224.openai"


@pytest.fixture(scope="module")
def vit_b32_file(tmp_path_factory):
    """A randomly initialised ViT-B-32 saved as a plain state dict (what a local file looks like)."""
    torch.manual_seed(0)
    model = load_clip("ViT-B-32", None)
    path = tmp_path_factory.mktemp("clip") / "vit_b32_random.pt"
    torch.save(model.state_dict(), path)
    return path, model.state_dict()


@pytest.fixture
def empty_hub_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants as hc

    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


def test_pretrained_values_are_classified(tmp_path):
    assert resolve_pretrained(None) == PretrainedSource("none")
    assert resolve_pretrained("none").kind == resolve_pretrained("").kind == "none"
    assert resolve_pretrained("openai") == PretrainedSource("tag", "openai")
    assert resolve_pretrained("weights/clip.bin").kind == "file"
    (tmp_path / "clip").write_bytes(b"")
    assert resolve_pretrained(tmp_path / "clip") == PretrainedSource("file", str(tmp_path / "clip"))


def test_openai_tag_names_the_hub_repository_open_clip_uses():
    repo, names = hub_location("ViT-B-32", "openai")
    assert repo == OPENAI_REPO and "open_clip_pytorch_model.bin" in names


def test_openai_offline_fails_in_one_line_within_seconds(empty_hub_cache):
    load_clip("microau-tiny", None)  # imports done, so the timing is the lookup's
    start = time.perf_counter()
    with pytest.raises(WeightsUnavailable) as err:
        load_clip("ViT-B-32", "openai")
    assert time.perf_counter() - start < 5.0
    msg = str(err.value)
    assert "\n" not in msg
    for part in ("'openai'", "HF_HUB_OFFLINE", OPENAI_REPO, f"models--{OPENAI_REPO.replace('/', '--')}",
                 "HF_HOME", "--pretrained PATH"):
        assert part in msg, part
    assert isinstance(err.value, ValueError)  # the command line prints ValueErrors as one line


def test_unknown_tag_lists_the_known_ones(empty_hub_cache):
    with pytest.raises(WeightsUnavailable, match="no pretrained tag 'openaii'.*openai"):
        load_clip("ViT-B-32", "openaii")


def test_local_file_of_the_wrong_architecture_is_refused_in_one_line(tmp_path):
    torch.manual_seed(0)
    state = load_clip("microau-tiny", None).state_dict()
    del state["ln_final.weight"]
    state["text_projection"] = torch.zeros(3, 3)
    state["extra.weight"] = torch.zeros(1)
    torch.save({"state_dict": state}, tmp_path / "odd.pt")
    with pytest.raises(WeightsUnavailable) as err:
        load_clip("microau-tiny", str(tmp_path / "odd.pt"))
    msg = str(err.value)
    assert "\n" not in msg and "odd.pt" in msg
    assert "1 missing: ln_final.weight" in msg
    assert "1 unexpected: extra.weight" in msg
    assert "1 mis-shaped: text_projection (3, 3) vs (64, 32)" in msg
    with pytest.raises(WeightsUnavailable, match="does not exist"):
        load_clip("microau-tiny", str(tmp_path / "missing.pt"))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsUnavailable, match="could not be read"):
        load_clip("microau-tiny", str(tmp_path / "junk.pt"))


def test_local_file_formats_load_exactly(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(1)
    state = load_clip("microau-tiny", None).state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "w.safetensors"))
    torch.save({"module." + k: v for k, v in state.items()}, tmp_path / "w_dp.pt")  # DataParallel names
    for name in ("w.safetensors", "w_dp.pt"):
        loaded = load_clip("microau-tiny", str(tmp_path / name)).state_dict()
        assert all(torch.equal(loaded[k], v) for k, v in state.items()), name


def test_torchscript_archive_is_read_like_openais_release(tmp_path):
    """OpenAI's ViT-B-32.pt is a TorchScript archive; a traced tiny CLIP stands in for it (it also
    stores the causal attn_mask buffer, which the model recomputes and the reader drops)."""
    import warnings

    torch.manual_seed(2)
    model = load_clip("microau-tiny", None).eval()
    model.visual.output_tokens = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, (torch.randn(1, 3, 224, 224), torch.randint(0, 100, (1, 77))),
                                 check_trace=False, strict=False)
    traced.save(str(tmp_path / "ViT-tiny.pt"))
    loaded = load_clip("microau-tiny", str(tmp_path / "ViT-tiny.pt")).state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in model.state_dict().items())


def test_random_vit_b32_file_builds_the_paper_model(vit_b32_file):
    from microau.config import make_config
    from microau.model.micro_au_clip import MicroAUCLIP

    path, state = vit_b32_file
    cfg = make_config("paper", "full", dataset="phantom-casme2", pretrained=str(path))
    model = MicroAUCLIP(cfg)
    ours = model.state_dict()
    for key in ("visual.conv1.weight", "visual.transformer.resblocks.11.mlp.c_proj.weight"):
        assert torch.equal(ours["visual." + key], state[key]), key
    for key in ("token_embedding.weight", "transformer.resblocks.11.attn.in_proj_weight"):
        assert torch.equal(ours["text." + key], state[key]), key
    # a local file for an OpenAI architecture gets OpenAI's activation (our reading, see weights.py)
    from open_clip.transformer import QuickGELU

    assert any(isinstance(m, QuickGELU) for m in model.modules())


def test_openai_tag_is_read_from_a_copied_hub_cache(vit_b32_file, empty_hub_cache):
    """What the book tells users to do: fill the cache elsewhere, copy models--<repo> here."""
    import shutil

    from open_clip.transformer import QuickGELU

    path, state = vit_b32_file
    snap = empty_hub_cache / f"models--{OPENAI_REPO.replace('/', '--')}" / "snapshots" / "0123abcd"
    snap.mkdir(parents=True)
    shutil.copy(path, snap / "open_clip_pytorch_model.bin")
    (snap.parents[1] / "refs").mkdir()
    (snap.parents[1] / "refs" / "main").write_text("0123abcd")
    assert cached_tag_file("ViT-B-32", "openai") == snap / "open_clip_pytorch_model.bin"
    model = load_clip("ViT-B-32", "openai")
    assert torch.equal(model.state_dict()["visual.conv1.weight"], state["visual.conv1.weight"])
    assert any(isinstance(m, QuickGELU) for m in model.modules())


@pytest.mark.slow
def test_random_vit_b32_file_runs_a_one_epoch_paper_loso(vit_b32_file, tmp_path):
    """The issue's acceptance run: paper profile, pretrained=PATH, 1 epoch, 2 phantom subjects,
    CPU (about a minute on 2 loaded cores)."""
    from microau.config import make_config
    from microau.train.loso import run_loso

    path, _ = vit_b32_file
    cfg = make_config("paper", "full", dataset="phantom-casme2", pretrained=str(path), epochs=1, n_subjects=2)
    result = run_loso(cfg, runs_dir=tmp_path / "runs", progress=False)
    assert result.meta["n_subjects"] == 2 and result.predictions["id"].nunique() == result.meta["n_clips"]
    assert 0.0 <= result.f1 <= 1.0


def test_unreachable_hub_fails_in_seconds_without_hf_hub_offline(empty_hub_cache, monkeypatch):
    """huggingface_hub itself retries for about a minute; the probe ends it at once."""
    import huggingface_hub.constants as hc

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(hc, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    load_clip("microau-tiny", None)
    start = time.perf_counter()
    with pytest.raises(WeightsUnavailable, match=r"cannot be reached.*hf download"):
        load_clip("ViT-B-32", "openai")
    assert time.perf_counter() - start < 5.0
