"""``microau doctor``: before a long run, what a profile needs and whether this machine has it.

    microau doctor --profile paper --root casme2=/data/CASME2 [--root samm=/data/SAMM]
                   [--pretrained openai|PATH|none] [--magnify learned --magnify-checkpoint PATH]
    microau doctor --data casme3=/data/CASME3 [--data mmew=/data/MMEW ...]   (a data dry run)

One line per need (data sheet and frames of each data set, CLIP weights, magnifier checkpoint,
GPU, free disk for the caches), each with what to do when it is missing. The exit code is 1
when something required is missing. :func:`preflight` gives the same checks to other commands
(``microau reproduce`` runs it first).
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

# A margin, not a measurement: the prepared-clip and trunk-feature caches of a real data set
# stay far below it (see the performance page for measured sizes).
MIN_FREE_GIB = 5.0


@dataclass
class Check:
    """One need of a run: ``ok`` or not, whether a run cannot start without it (``required``),
    what was found (``detail``) and what to do when it is missing (``fix``)."""

    name: str
    ok: bool
    required: bool
    detail: str
    fix: str = ""

    @property
    def blocking(self) -> bool:
        return self.required and not self.ok

    def line(self) -> str:
        mark = "ok  " if self.ok else ("MISS" if self.required else "warn")
        text = f"[{mark}] {self.name}: {self.detail}"
        return text + (f"\n       -> {self.fix}" if self.fix and not self.ok else "")


def check_dataset(dataset: str, roots: dict | None) -> Check:
    """Coding sheet and frames of one data set (read as a run reads them)."""
    from .data import registry

    name = f"data {dataset}"
    try:
        registry.check(dataset)
        if registry.is_phantom(dataset):
            return Check(name, True, True, "simulated; written to the cache on first use")
        root = registry.root_from_map(dataset, roots)
        if not root:
            return Check(name, False, True, "no folder given",
                         f"pass --root {dataset}=DIR, the folder of your copy (coding sheet and frames)")
        samples = registry.load_samples(dataset, root)
    except (FileNotFoundError, ValueError, OSError) as err:
        return Check(name, False, True, _one_line(err),
                     "see 'Your own data' in the book for the folder layouts microau reads")
    subjects = len({s.subject for s in samples})
    return Check(name, True, True, f"{len(samples)} clips of {subjects} subjects in {root}")


def check_clip(model_name: str, pretrained) -> Check:
    """The CLIP weights a run would load: found and fitting, or the one-line reason."""
    from .model.weights import WeightsUnavailable, check_weights

    from .pretrain.checkpoint import PHANTOM_TAG, checkpoint_path

    name = f"CLIP {model_name} ({pretrained or 'none'})"
    if pretrained == PHANTOM_TAG:
        path = checkpoint_path(model_name)
        return Check(name, True, True, f"pretrained on the phantom corpus: {path}" if path.is_file() else
                     "pretrained on the phantom corpus on first use (cached; `microau pretrain` does it now)")
    try:
        detail = check_weights(model_name, pretrained)
    except WeightsUnavailable as err:
        return Check(name, False, True, str(err).split("; either")[0],
                     "either" + str(err).split("; either", 1)[1] if "; either" in str(err) else "")
    return Check(name, True, True, detail)


def check_magnifier(method: str, checkpoint) -> Check:
    """The magnifier: linear needs nothing; learned needs a checkpoint microau can read."""
    if method != "learned":
        return Check(f"magnifier ({method})", True, False,
                     f"{method} needs no checkpoint (the paper magnifies with the learned network of "
                     "Oh et al. 2018: --magnify learned --magnify-checkpoint PATH)")
    name = "magnifier (learned)"
    if not checkpoint:
        return Check(name, False, True, "no checkpoint given",
                     "pass --magnify-checkpoint PATH (a checkpoint of one of the ports listed in the book), "
                     "or --magnify linear")
    try:
        from .prep.magnet_formats import FORMAT_REPOS, load_magnet

        net = load_magnet(checkpoint)
    except (FileNotFoundError, ValueError, OSError) as err:
        return Check(name, False, True, _one_line(err), "see 'Your own data' in the book for the formats read")
    return Check(name, True, True, f"{net.source_format} checkpoint ({FORMAT_REPOS[net.source_format]}) "
                                   f"from {checkpoint}")


def check_gpu(device: str | None, profile: str) -> Check:
    """A CUDA device: required when the run asks for cuda, recommended for the paper profile."""
    import torch

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return Check("GPU", True, False, f"{props.name}, {props.total_memory / 2**30:.0f} GiB")
    if (device or "").startswith("cuda"):
        return Check("GPU", False, True, f"--device {device} asked for, no CUDA device visible to torch",
                     "run on a GPU node (check nvidia-smi and that torch is a CUDA build), or pass --device cpu")
    if profile == "paper":
        return Check("GPU", False, False, "no CUDA device visible to torch",
                     "the paper profile (ViT-B/32, 80 epochs) is meant for a GPU: run on a GPU node with "
                     "--device cuda; on CPU it trains, but slowly")
    return Check("GPU", True, False, f"none visible; not needed for the {profile} profile")


def check_disk(paths: list[Path]) -> Check:
    """Free space where the caches and runs are written."""
    worst = None
    for p in paths:
        probe = p
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        free = shutil.disk_usage(probe).free / 2**30
        if worst is None or free < worst[1]:
            worst = (p, free)
    path, free = worst
    ok = free >= MIN_FREE_GIB
    return Check("disk", ok, False, f"{free:.1f} GiB free for {path}",
                 f"free space or point MICROAU_CACHE / --runs at a disk with at least {MIN_FREE_GIB:g} GiB")


def preflight(profile: str = "paper", roots: dict | None = None, datasets: list[str] | None = None,
              pretrained: str | None = None, magnify: str | None = None,
              magnify_checkpoint: str | None = None, device: str | None = None,
              runs_dir: str | Path | None = None) -> list[Check]:
    """The checks a run of ``profile`` needs, in order: data, CLIP weights, magnifier, GPU, disk.

    ``pretrained=None`` and ``magnify=None`` take the profile's own values ('none' asks for random
    initialisation). ``datasets``
    defaults to the data sets named in ``roots`` (or the two phantoms when there are none)."""
    from .config import PROFILES, make_config
    from .prep.cache import default_cache_dir
    from .runs import runs_dir as resolve_runs_dir

    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    cfg = make_config(profile, "full")
    if pretrained is not None:
        cfg = cfg.replace(pretrained=pretrained)
    names = list(datasets or (list(roots) if roots else ["phantom-casme2", "phantom-samm"]))
    checks = [check_dataset(d, roots) for d in names]
    checks.append(check_clip(cfg.clip_model, cfg.pretrained))
    checks.append(check_magnifier(magnify or cfg.magnify, magnify_checkpoint or cfg.magnify_checkpoint))
    checks.append(check_gpu(device, profile))
    checks.append(check_disk([default_cache_dir(), resolve_runs_dir(runs_dir)]))
    return checks


def blocking(checks: list[Check]) -> list[Check]:
    """The required checks that failed (a run cannot start while any is left)."""
    return [c for c in checks if c.blocking]


def format_report(checks: list[Check]) -> str:
    bad = blocking(checks)
    tail = ("ready: nothing required is missing" if not bad
            else f"not ready: {len(bad)} required item(s) missing")
    return "\n".join([c.line() for c in checks] + [tail])


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


def _data_dry_run(items: list[str]) -> int:
    """``--data NAME=PATH``: each tree read as a run would read it; 1 when something blocks."""
    from .data.dry_run import format_tree_report, inspect_tree

    blocked = 0
    for item in items:
        name, _, path = item.partition("=")
        report = inspect_tree(name.strip(), path.strip() or None)
        print(format_tree_report(report) + "\n")
        blocked += bool(report.blockers)
    print(f"{len(items) - blocked} of {len(items)} data tree(s) ready" +
          (f"; {blocked} blocked (above)" if blocked else ""))
    return 1 if blocked else 0


def _run(args) -> int:
    from .cli_args import parse_roots

    if args.data:
        return _data_dry_run(args.data)
    checks = preflight(args.profile, parse_roots(args.root) or None, args.datasets, args.pretrained, args.magnify,
                       args.magnify_checkpoint, args.device, args.runs)
    print(format_report(checks))
    return 1 if blocking(checks) else 0


def register(sub) -> None:
    p = sub.add_parser("doctor", help="check what a profile needs (data, CLIP weights, magnifier, GPU, disk)",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="paper", choices=("paper", "quick", "smoke"),
                   help="the profile to check for (default paper)")
    p.add_argument("--root", action="append", default=None, metavar="DATASET=DIR",
                   help="folder of a licensed data set, e.g. --root casme2=/data/CASME2 (repeatable)")
    p.add_argument("--datasets", nargs="+", default=None, help="data sets to check (default: those with --root)")
    p.add_argument("--pretrained", default=None, help="openai | PATH | none (default: the profile's)")
    p.add_argument("--magnify", default=None, choices=("linear", "learned", "none"))
    p.add_argument("--magnify-checkpoint", default=None, help="checkpoint for --magnify learned")
    p.add_argument("--device", default=None, help="the device the run will use (cuda makes a GPU required)")
    p.add_argument("--runs", default=None, help="results directory the run will write")
    p.add_argument("--data", action="append", default=None, metavar="NAME=PATH",
                   help="instead: a dry run over a data set's tree (rows read and left out, fallbacks, "
                        "missing or damaged frames, clips preparation would drop, AU counts), in "
                        "seconds, preparing nothing; e.g. --data casme3=/data/CASME3 (repeatable; a "
                        "phantom's name alone reads its cached copy)")
    p.set_defaults(func=_run)
