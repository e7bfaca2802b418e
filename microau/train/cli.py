"""``microau loso``: one LOSO evaluation from the command line."""
from __future__ import annotations


def _main(args) -> int:
    from .. import cli_args
    from ..runs import ensure_runs, is_finished, read_run, run_dir_for, runs_dir

    (cfg,) = cli_args.configs_from_args(args, [args.variant], [args.dataset])
    where = runs_dir(args.runs)
    if not is_finished(cfg, where):  # before preparing anything: weights and magnifier are there
        from ..doctor import blocking, check_clip, check_magnifier

        for c in blocking([check_clip(cfg.clip_model, cfg.pretrained),
                           check_magnifier(cfg.magnify, cfg.magnify_checkpoint)]):
            raise ValueError(" ".join(c.line().split()))
    if args.force or args.trainer != "fast" or args.fold_chunk:
        from .loso import run_loso

        run_loso(cfg, runs_dir=where, trainer=args.trainer, fold_chunk=args.fold_chunk,
                 force=args.force, progress=not args.no_progress)
    else:
        ensure_runs([cfg], where, executor=args.executor, jobs=args.jobs, ray_address=args.ray_address,
                    progress=not args.no_progress)
    result = read_run(cfg, where)
    print(f"\nLOSO {cfg.dataset} | variant {cfg.variant} | profile {cfg.profile} | data source: "
          f"{result.source} ({result.meta['n_clips']} clips, {result.meta['n_subjects']} subjects)")
    print(result.metrics.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    mer = result.mer_metrics
    if mer.get("available"):
        print(f"label-free MER (Eq. 13): UF1 {mer['uf1']:.3f}  UAR {mer['uar']:.3f}  "
              f"WF1 {mer['wf1']:.3f}  acc {mer['acc']:.3f}  (n={mer['n']})")
        print(f"TextSi (positive vs negative prompt similarity): {mer['text_similarity']:.3f}")
    print(f"results: {run_dir_for(cfg, where)}")
    return 0


def register(sub) -> None:
    from .. import cli_args

    p = sub.add_parser("loso", help="leave-one-subject-out training and evaluation",
                       description="Train and evaluate one LOSO run (read back if it is finished).")
    cli_args.add_run_args(p)
    cli_args.add_executor_args(p)
    p.add_argument("--trainer", default="fast", choices=["fast", "reference"],
                   help="fast (default) or the plain reference loop it is tested against")
    p.add_argument("--fold-chunk", type=int, default=None, help="folds trained at once (fast trainer)")
    p.add_argument("--force", action="store_true", help="retrain even if a finished run exists")
    p.set_defaults(func=_main)
