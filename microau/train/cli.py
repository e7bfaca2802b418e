"""``microau loso``: one LOSO evaluation from the command line."""
from __future__ import annotations

from ..config import PROFILES, VARIANTS, make_config


def _main(args) -> int:
    from .loso import run_loso

    cfg = make_config(args.profile, args.variant, dataset=args.dataset, data_root=args.root,
                      device=args.device, epochs=args.epochs, n_subjects=args.subjects)
    result = run_loso(cfg, runs_dir=args.runs, trainer=args.trainer, fold_chunk=args.fold_chunk,
                      force=args.force, progress=not args.no_progress)
    print(f"\nLOSO {cfg.dataset} | variant {cfg.variant} | profile {cfg.profile} | data source: "
          f"{result.source} ({result.meta['n_clips']} clips, {result.meta['n_subjects']} subjects)")
    print(result.metrics.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    mer = result.mer_metrics
    if mer.get("available"):
        print(f"label-free MER (Eq. 13): UF1 {mer['uf1']:.3f}  UAR {mer['uar']:.3f}  "
              f"WF1 {mer['wf1']:.3f}  acc {mer['acc']:.3f}  (n={mer['n']})")
        print(f"TextSi (positive vs negative prompt similarity): {mer['text_similarity']:.3f}")
    print(f"results: {result.run_dir}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("loso", help="leave-one-subject-out training and evaluation")
    p.add_argument("--dataset", default="phantom-casme2",
                   choices=["phantom-casme2", "phantom-samm", "casme2", "samm"])
    p.add_argument("--variant", default="full", choices=sorted(VARIANTS), metavar="VARIANT",
                   help="'full' or a table row, e.g. table2/lsi_only (see microau.config.VARIANTS)")
    p.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    p.add_argument("--root", default=None, help="dataset root (required for casme2/samm)")
    p.add_argument("--device", default=None, help="cpu (default) or cuda")
    p.add_argument("--epochs", type=int, default=None, help="override the profile's epoch count")
    p.add_argument("--subjects", type=int, default=None, help="keep only the first K subjects")
    p.add_argument("--runs", default=None, help="results directory (default ./runs or $MICROAU_RUNS)")
    p.add_argument("--trainer", default="fast", choices=["fast", "reference"])
    p.add_argument("--fold-chunk", type=int, default=None, help="folds trained at once (fast trainer)")
    p.add_argument("--force", action="store_true", help="retrain even if a finished run exists")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_main)
