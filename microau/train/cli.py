"""``microau loso``: one LOSO evaluation from the command line."""
from __future__ import annotations


def _config(args):
    """The run config the command line asks for: one data set (LOSO), a composite, or a cross-set
    plan (--train/--test, --leave-one-dataset-out)."""
    from .. import cli_args, cross
    from ..data import registry

    if args.test or args.train:
        if not (args.test and args.train):
            raise ValueError("--train and --test go together: --train casme2 --test samm")
        p = cross.plan("train-test", args.train.split("+"), args.test)
    elif args.leave_one_dataset_out:
        p = cross.plan("leave-one-dataset-out", registry.parts(args.dataset))
    elif registry.is_composite(args.dataset):
        p = cross.plan("loso", registry.parts(args.dataset))
    else:
        if not registry.is_au_coded(args.dataset):
            registry.evaluated_aus(args.dataset)  # the error that says what an emotion-only set serves
        (cfg,) = cli_args.configs_from_args(args, [args.variant], [args.dataset])
        return cfg, None
    roots = cli_args.parse_roots(args.root, registry.parts(p.dataset))
    over = cli_args.config_overrides(args)
    device = over.pop("device", "cpu")
    return cross.plan_config(p, args.profile, args.variant, roots, device, **over), p


def _main(args) -> int:
    from .. import cross
    from ..runs import ensure_runs, is_finished, read_run, run_dir_for, runs_dir

    cfg, plan = _config(args)
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
    what = plan.label if plan else f"LOSO {cfg.dataset}"
    print(f"\n{what} | variant {cfg.variant} | profile {cfg.profile} | data source: "
          f"{result.source} ({result.meta['n_clips']} clips, {result.meta['n_subjects']} subjects)")
    print(result.metrics.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if plan:
        print(f"\nper data set (AUs every AU-coded set scores: {', '.join(map(str, result.meta['aus']))}):")
        print(cross.format_scores(cross.scores_by_set(result)))
    mer = result.mer_metrics
    if mer.get("available"):
        print(f"label-free MER (Eq. 13): UF1 {mer['uf1']:.3f}  UAR {mer['uar']:.3f}  "
              f"WF1 {mer['wf1']:.3f}  acc {mer['acc']:.3f}  (n={mer['n']})")
        print(f"TextSi (positive vs negative prompt similarity): {mer['text_similarity']:.3f}")
    print(f"results: {run_dir_for(cfg, where)}")
    return 0


def register(sub) -> None:
    from .. import cli_args

    p = sub.add_parser("loso", help="leave-one-subject-out training and evaluation, also across data sets",
                       description="Train and evaluate one LOSO run (read back if it is finished). "
                                   "Across data sets: --dataset casme2+samm (LOSO over both, subjects "
                                   "prefixed by set), --train casme2 --test samm (over the AUs they share), "
                                   "--dataset casme2+samm+casme3 --leave-one-dataset-out.")
    cli_args.add_run_args(p, composite=True)
    p.add_argument("--train", default=None, metavar="SET[+SET]",
                   help="train on this set (or these, joined by '+') and test on --test")
    p.add_argument("--test", default=None, metavar="SET", help="the set --train's model is tested on")
    p.add_argument("--leave-one-dataset-out", action="store_true",
                   help="with a composite --dataset: one fold per set, trained on the others")
    cli_args.add_executor_args(p)
    p.add_argument("--trainer", default="fast", choices=["fast", "reference"],
                   help="fast (default) or the plain reference loop it is tested against")
    p.add_argument("--fold-chunk", type=int, default=None, help="folds trained at once (fast trainer)")
    p.add_argument("--force", action="store_true", help="retrain even if a finished run exists")
    p.set_defaults(func=_main)
