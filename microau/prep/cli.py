"""``microau phantom`` and ``microau prepare``.

    microau phantom --like casme2|samm|casme3|casme|4dme|mmew|smic --out DIR [--seed S] [--subjects K]
                    [--control indep|offsite]   (controls: casme2 and samm only)
    microau prepare --dataset phantom-casme2 [--root DIR] [--cache DIR] [--workers N] [--magnify linear]
"""
from __future__ import annotations

import argparse
import time


def _phantom(args: argparse.Namespace) -> int:
    from microau.data import registry
    from microau.data.phantom import default_phantom_root, write_phantom
    from microau.data.phantom.layouts import LAYOUTS, default_root, write_layout_phantom

    t0 = time.perf_counter()
    if args.like in LAYOUTS:
        if args.control:
            raise SystemExit(f"--control is for the CASME II- and SAMM-like phantoms, not {args.like}")
        name = f"phantom-{args.like}"
        out = args.out or default_root(args.like, args.seed, args.subjects)
        root = write_layout_phantom(args.like, out, seed=args.seed, n_subjects=args.subjects,
                                    progress=not args.no_progress)
    else:
        name = registry.phantom_of(args.like) + (f"-{args.control}" if args.control else "")
        out = args.out or default_phantom_root(args.like, args.seed, args.subjects, args.control)
        root = write_phantom(args.like, out, seed=args.seed, n_subjects=args.subjects,
                             settings=registry.phantom_settings(registry.check(name)),
                             progress=not args.no_progress)
    print(f"{name} (seed {args.seed}, subjects {args.subjects or 'all'}) in {root} "
          f"[{time.perf_counter() - t0:.1f} s]")
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from microau.data import registry
    from microau.prep.pipeline import PrepSettings, prepare_samples

    root = args.root
    if root is None:
        if not registry.is_phantom(args.dataset):
            raise ValueError(f"--root is required for {args.dataset} (the folder holding its coding sheet)")
        root = registry.phantom_root(args.dataset, seed=args.seed, n_subjects=args.subjects,
                                     progress=not args.no_progress)
    samples = registry.load_samples(args.dataset, root)
    settings = PrepSettings(magnify=args.magnify, learned_checkpoint=args.checkpoint,
                            on_unreadable=args.on_damaged_frame)
    t0 = time.perf_counter()
    prepared = prepare_samples(samples, settings, cache_dir=args.cache, workers=args.workers,
                               progress=not args.no_progress)
    dt = time.perf_counter() - t0
    s = prepared.summary()
    print(f"{args.dataset}: {s['clips']} clips prepared in {dt:.1f} s "
          f"({s['cached']} from the cache, {s['computed']} computed)")
    if s["fallbacks"]:
        print("fallbacks:")
        for reason, n in sorted(s["fallbacks"].items()):
            print(f"  {reason}: {n}")
        for cid, reason in sorted(prepared.fallbacks.items()):
            print(f"    {cid}: {reason}")
    else:
        print("fallbacks: none")
    if prepared.dropped:
        print(f"dropped (missing or damaged frame): {len(prepared.dropped)}")
        for cid, why in sorted(prepared.dropped.items()):
            print(f"  {cid}: {why}")
    return 0


def register(subparsers) -> None:
    from microau.data.registry import BASE_DATASETS, CONTROLS, DATASETS, OTHER_DATASETS
    from microau.prep.pipeline import default_workers

    ph = subparsers.add_parser(
        "phantom", help="write the simulated data set (phantom) in the layout of a real one",
        description="Write the phantom: simulated micro-expression clips with known AU labels, "
                    "in the real on-disk layout of CASME II, SAMM, CAS(ME)^3, CASME, 4DME, MMEW or SMIC.",
    )
    ph.add_argument("--like", required=True, choices=(*BASE_DATASETS, *OTHER_DATASETS),
                    help="the data set whose layout (sheet and frame tree) the phantom is written in")
    ph.add_argument("--out", default=None,
                    help="output folder: new, empty, or a phantom's own (default: the cache folder); "
                         "a folder holding anything else is refused")
    ph.add_argument("--control", default=None, choices=sorted(CONTROLS),
                    help="a testbed control: 'indep' (AU labels without co-occurrence) or 'offsite' "
                         "(motion moved off the Table I landmarks)")
    ph.add_argument("--seed", type=int, default=0)
    ph.add_argument("--subjects", type=int, default=None, help="keep the first K subjects")
    ph.add_argument("--no-progress", action="store_true")
    ph.set_defaults(func=_phantom)

    pr = subparsers.add_parser(
        "prepare", help="face crop, magnification, TV-L1 flow image and landmarks per clip (cached)",
        description="Prepare every clip of a dataset: face box on the onset, crop, x3 "
                    "magnification, TV-L1 flow image (224x224) and 68 landmarks on the apex.",
    )
    pr.add_argument("--dataset", required=True, choices=DATASETS)
    pr.add_argument("--root", default=None, help="dataset root (optional for the phantom)")
    pr.add_argument("--cache", default=None, help="cache folder (default $MICROAU_CACHE/prep)")
    pr.add_argument("--workers", type=int, default=default_workers())
    pr.add_argument("--magnify", default="linear", choices=("linear", "learned", "none"))
    pr.add_argument("--checkpoint", default=None, help="learned-magnifier checkpoint for --magnify learned (the public ports' formats are read; see the book's 'Your own data' chapter)")
    pr.add_argument("--on-damaged-frame", default="error", choices=("error", "drop"),
                    help="a clip whose onset or apex frame is damaged: stop with an error naming the "
                         "file (default), or leave the clip out, counted and listed")
    pr.add_argument("--seed", type=int, default=0, help="phantom seed when --root is omitted")
    pr.add_argument("--subjects", type=int, default=None, help="phantom subjects when --root is omitted")
    pr.add_argument("--no-progress", action="store_true")
    pr.set_defaults(func=_prepare)
