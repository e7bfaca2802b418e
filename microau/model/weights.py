"""Where CLIP's pretrained weights come from (Config.pretrained), checked before any training.

``pretrained`` is one of

* an open_clip tag such as ``'openai'`` (the paper's ViT-B/32): read from the Hugging Face hub
  cache, downloaded only when the machine is online;
* a path to a local file (open_clip/OpenAI state dict ``.pt``/``.bin``/``.pth``, ``.safetensors``,
  or OpenAI's TorchScript release ``ViT-B-32.pt``);
* ``None`` / ``'none'``: random initialisation.

Every way of failing ends in one :class:`WeightsUnavailable` line that says what was asked for,
why it failed and the two ways out (fill the hub cache elsewhere and copy it, or pass a file).
A file is compared with the architecture (keys and shapes) before the model is touched.
"""
from __future__ import annotations

import logging
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# open_clip's hub files, in the order open_clip itself looks for them
HUB_FILENAMES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
_NONE_WORDS = ("", "none", "null", "random")
_SHOW = 4  # keys named per kind of mismatch


class WeightsUnavailable(ValueError):
    """CLIP weights that cannot be had or do not fit; the message is one line for the user.

    A ValueError, so that the command line prints it as one error line (microau.cli)."""


@dataclass(frozen=True)
class PretrainedSource:
    """What ``Config.pretrained`` asks for: kind 'tag' | 'file' | 'none'."""

    kind: str
    value: str | None = None


def resolve_pretrained(pretrained: str | os.PathLike | None) -> PretrainedSource:
    """Classify a ``pretrained`` value: None/'none' -> none, an existing path or anything that
    looks like one (a separator or a weights suffix) -> file, otherwise an open_clip tag."""
    if pretrained is None or str(pretrained).strip().lower() in _NONE_WORDS:
        return PretrainedSource("none")
    text = str(pretrained).strip()
    path = Path(text).expanduser()
    looks_like_path = (os.sep in text or "/" in text
                       or path.suffix.lower() in (".pt", ".pth", ".bin", ".safetensors", ".ckpt"))
    if path.exists() or looks_like_path:
        return PretrainedSource("file", str(path))
    return PretrainedSource("tag", text)


def hub_location(model_name: str, tag: str) -> tuple[str, tuple[str, ...]]:
    """(hub repository, candidate file names) open_clip downloads ``tag`` of ``model_name`` from."""
    import open_clip

    cfg = open_clip.get_pretrained_cfg(model_name, tag)
    if not cfg:
        known = open_clip.list_pretrained_tags_by_model(model_name)
        raise WeightsUnavailable(
            f"CLIP '{model_name}' has no pretrained tag {tag!r} in open_clip (known: "
            f"{', '.join(known) or 'none'}); pass a known tag, a local weights file, or 'none'")
    hub = cfg.get("hf_hub", "")
    if not hub:
        raise WeightsUnavailable(
            f"CLIP '{model_name}' tag {tag!r} is only downloadable from {cfg.get('url', '?')}; "
            "download that file on a machine with network and pass its path as --pretrained PATH")
    repo, filename = os.path.split(hub.rstrip("/")) if not hub.endswith("/") else (hub.rstrip("/"), "")
    return repo, ((filename,) if filename else HUB_FILENAMES)


def tag_quick_gelu(model_name: str, tag: str) -> bool:
    """Whether weights of this tag were trained with QuickGELU (OpenAI's are)."""
    import open_clip

    return bool((open_clip.get_pretrained_cfg(model_name, tag) or {}).get("quick_gelu", False))


def cached_tag_file(model_name: str, tag: str) -> Path | None:
    """The tag's file in the local hub cache (HF_HOME / HF_HUB_CACHE), or None. No network."""
    from huggingface_hub import try_to_load_from_cache

    repo, names = hub_location(model_name, tag)
    for name in names:
        hit = try_to_load_from_cache(repo_id=repo, filename=name)
        if isinstance(hit, str) and Path(hit).is_file():
            return Path(hit)
    return None


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _ways_out(model_name: str, tag: str) -> str:
    try:
        repo, names = hub_location(model_name, tag)
    except WeightsUnavailable:
        return "pass a local weights file as --pretrained PATH, or --pretrained none"
    from huggingface_hub.constants import HF_HUB_CACHE

    files = names[0] if len(names) == 1 else '--include "open_clip_*"'
    return (f"either (1) on a machine with network run `hf download {repo} {files}` (open_clip "
            f"tag '{tag}' of {model_name} lives in the hub repository {repo}), then copy the folder "
            f"models--{repo.replace('/', '--')} into this machine's hub cache {HF_HUB_CACHE} "
            "(or point HF_HOME at a copied cache), or (2) pass the downloaded file itself as "
            "--pretrained PATH")


def fetch_tag_file(model_name: str, tag: str) -> Path:
    """The tag's weights file: from the hub cache, else downloaded (unless HF_HUB_OFFLINE is set).

    Offline, or when the download fails, raises :class:`WeightsUnavailable` at once."""
    repo, names = hub_location(model_name, tag)
    hit = cached_tag_file(model_name, tag)
    if hit is not None:
        return hit
    asked = f"CLIP weights '{tag}' for {model_name} are not available"
    if _offline():
        raise WeightsUnavailable(f"{asked}: not in the hub cache and HF_HUB_OFFLINE is set; "
                                 + _ways_out(model_name, tag))
    unreachable = hub_unreachable()
    if unreachable:
        raise WeightsUnavailable(f"{asked}: not in the hub cache and {unreachable}; "
                                 + _ways_out(model_name, tag))
    from huggingface_hub import hf_hub_download

    errors = []
    for name in names:
        try:
            return Path(hf_hub_download(repo_id=repo, filename=name, etag_timeout=5))
        except Exception as err:  # network errors come in many types; all end the same way
            errors.append(f"{name}: {type(err).__name__}")
    raise WeightsUnavailable(f"{asked}: the download from {repo} failed ({'; '.join(errors)}); "
                             + _ways_out(model_name, tag))


def hub_unreachable(timeout: float = 3.0) -> str | None:
    """None when the hub's host answers a TCP connection within ``timeout`` s, else the reason.

    huggingface_hub retries a failing download for about a minute; this probe lets a machine
    without network fail in seconds even when HF_HUB_OFFLINE is not set."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as err:
        return f"the hub ({host}) cannot be reached ({type(err).__name__}: {err})"


def read_weights_file(path: str | Path) -> dict:
    """A CLIP state dict from a file, never running code from it.

    Reads ``.safetensors``, torch state dicts (``weights_only``; a ``state_dict`` entry and a
    ``module.`` prefix are unwrapped) and OpenAI's TorchScript archive."""
    import torch

    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsUnavailable(f"CLIP weights file {path} does not exist; pass an existing "
                                 "file as --pretrained PATH, an open_clip tag such as 'openai', or 'none'")
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        elif _is_torchscript(path):
            import warnings

            with warnings.catch_warnings():  # torch's deprecation notice is not the user's concern
                warnings.simplefilter("ignore", FutureWarning)
                state = torch.jit.load(str(path), map_location="cpu").state_dict()
            for extra in ("input_resolution", "context_length", "vocab_size"):
                state.pop(extra, None)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except WeightsUnavailable:
        raise
    except Exception as err:
        raise WeightsUnavailable(
            f"CLIP weights file {path} could not be read ({type(err).__name__}: "
            f"{str(err).splitlines()[0][:160] if str(err) else ''}); pass an open_clip or OpenAI "
            "CLIP checkpoint (.pt/.bin/.safetensors)") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not state:
        raise WeightsUnavailable(f"CLIP weights file {path} holds no state dict "
                                 f"(found {type(state).__name__}); pass a CLIP checkpoint")
    if all(str(k).startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any(n.endswith("constants.pkl") or "/code/" in n for n in z.namelist())


def drop_non_persistent(model, state: dict) -> dict:
    """``state`` without the buffers ``model`` recomputes itself (e.g. the text tower's causal
    ``attn_mask``, which TorchScript archives store)."""
    own = model.state_dict()
    derived = {name for name, _ in model.named_buffers() if name not in own}
    return {k: v for k, v in state.items() if k not in derived}


def check_state_dict(model, state: dict, source: str) -> None:
    """Raise :class:`WeightsUnavailable` naming the first missing, unexpected and mis-shaped keys
    when ``state`` does not fit ``model`` exactly."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shaped = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
              for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if not (missing or unexpected or shaped):
        return
    parts = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", shaped)):
        if items:
            more = f" (+{len(items) - _SHOW} more)" if len(items) > _SHOW else ""
            parts.append(f"{len(items)} {label}: {', '.join(items[:_SHOW])}{more}")
    raise WeightsUnavailable(
        f"CLIP weights {source} do not fit the architecture {getattr(model, '_microau_name', '')}"
        f"{' ' if hasattr(model, '_microau_name') else ''}({'; '.join(parts)}); pass weights saved "
        "from this model config (Config.clip_model), or change clip_model to the one they were saved from")


def weights_file_for(model_name: str, pretrained) -> tuple[Path | None, bool]:
    """(file to load or None, QuickGELU?) for a ``pretrained`` value; fails in one line.

    Our reading: a local file for an architecture that open_clip ships OpenAI weights for is taken
    to be OpenAI's weights (the paper's setting), so it gets OpenAI's QuickGELU activation, as the
    'openai' tag does; our own model configs (microau-*) never do."""
    src = resolve_pretrained(pretrained)
    if src.kind == "none":
        return None, False
    if src.kind == "tag":
        return fetch_tag_file(model_name, src.value), tag_quick_gelu(model_name, src.value)
    import open_clip

    openai_arch = "openai" in open_clip.list_pretrained_tags_by_model(model_name)
    return Path(src.value), openai_arch and tag_quick_gelu(model_name, "openai")


def load_pretrained(model, path: Path) -> None:
    """Read ``path``, check it against ``model`` and load it (strict)."""
    state = drop_non_persistent(model, read_weights_file(path))
    if "logit_scale" in state and state["logit_scale"].ndim != model.logit_scale.ndim:
        state["logit_scale"] = state["logit_scale"].reshape(model.logit_scale.shape)
    check_state_dict(model, state, str(path))
    model.load_state_dict(state, strict=True)


def check_weights(model_name: str, pretrained) -> str:
    """What a run would load, checked like a run checks it, without training: a one-line
    description, or :class:`WeightsUnavailable` (the preflight of ``microau doctor``)."""
    src = resolve_pretrained(pretrained)
    if src.kind == "none":
        return "none: random initialisation (not the paper's setting)"
    path, quick_gelu = weights_file_for(model_name, pretrained)
    from .configs import quiet_root_logger as _quiet_root_logger
    from .configs import register_configs as _register_configs

    _register_configs()
    import open_clip

    with _quiet_root_logger():
        model = open_clip.create_model(model_name, pretrained=None, force_quick_gelu=quick_gelu)
    state = drop_non_persistent(model, read_weights_file(path))
    if "logit_scale" in state and state["logit_scale"].ndim != model.logit_scale.ndim:
        state["logit_scale"] = state["logit_scale"].reshape(model.logit_scale.shape)
    check_state_dict(model, state, str(path))
    return f"{path} fits {model_name}{' (QuickGELU, as OpenAI trained it)' if quick_gelu else ''}"
