"""The ``microau train-final`` and ``microau predict`` commands.

    microau train-final --dataset phantom-casme2 --profile quick --variant full --out model.pt
    microau predict --checkpoint model.pt --onset onset.jpg --apex apex.jpg [--out DIR]
    microau predict --checkpoint model.pt --video clip.mp4 --onset-frame 12 --apex-frame 40 [--out DIR]

``train-final`` trains one model on every clip of a data set (``--hold-out-subject S`` leaves one
subject out) and saves a checkpoint (:mod:`microau.checkpoint`); ``predict`` applies it to an
onset/apex pair (:mod:`microau.predict`). Errors are printed without a traceback (exit 2).
"""
from __future__ import annotations


def _train_final_main(args) -> int:
    from .cli_args import configs_from_args
    from .train.final import train_final

    (cfg,) = configs_from_args(args, [args.variant], [args.dataset])
    path = train_final(cfg, args.out, hold_out_subject=args.hold_out_subject, workers=args.workers,
                       progress=not args.no_progress)
    held = f", subject {args.hold_out_subject} held out" if args.hold_out_subject else ""
    print(f"checkpoint: {path} ({cfg.dataset}{held}, variant {cfg.variant}, profile {cfg.profile})")
    print(f"apply it: microau predict --checkpoint {path} --onset ONSET.jpg --apex APEX.jpg [--out DIR]")
    return 0


def _predict_main(args) -> int:
    from .checkpoint import load_checkpoint
    from .predict import predict_images, predict_video, write_report

    images = args.onset is not None or args.apex is not None
    video = args.video is not None or args.onset_frame is not None or args.apex_frame is not None
    usage = ("give either --onset ONSET_IMAGE --apex APEX_IMAGE, or --video VIDEO --onset-frame I "
             "--apex-frame J (0-based frame indices)")
    if images == video:
        raise ValueError(usage)
    if images and (args.onset is None or args.apex is None):
        raise ValueError(f"both --onset and --apex are needed: {usage}")
    if video and (args.video is None or args.onset_frame is None or args.apex_frame is None):
        raise ValueError(f"--video needs --onset-frame and --apex-frame: {usage}")
    loaded = load_checkpoint(args.checkpoint, device=args.device)
    loaded = _with_magnifier(loaded, args.magnify, args.magnify_checkpoint)
    if images:
        pred = predict_images(loaded, args.onset, args.apex)
    else:
        pred = predict_video(loaded, args.video, args.onset_frame, args.apex_frame)
    print(pred.format_text())
    if args.out:
        rep, png = write_report(pred, args.out)
        print(f"report: {rep}\noverlay: {png}")
    return 0


def _with_magnifier(loaded, magnify: str | None, checkpoint: str | None):
    """The checkpoint's preparation, with the learned magnifier's weights found where this
    machine keeps them. The magnifier itself must be the one the model was trained with."""
    import dataclasses

    prep = loaded.prep
    if magnify is not None and magnify != prep.magnify:
        raise ValueError(f"--magnify {magnify}: this model was trained on flow magnified with "
                         f"'{prep.magnify}'; predicting with another magnifier would feed it inputs "
                         "unlike its training data (leave --magnify out to use the trained one)")
    if checkpoint:
        if prep.magnify != "learned":
            raise ValueError(f"--magnify-checkpoint is for a model trained with --magnify learned; "
                             f"this one was trained with '{prep.magnify}'")
        loaded = dataclasses.replace(loaded, prep=dataclasses.replace(prep, learned_checkpoint=checkpoint))
    return loaded


def register(sub) -> None:
    """Add ``train-final`` and ``predict`` to the ``microau`` sub-command parser ``sub``."""
    from .cli_args import add_run_args
    from .predict import OVERLAY_FILE, REPORT_FILE

    t = sub.add_parser(
        "train-final", help="train one model on every subject of a data set and save a checkpoint",
        description="Train one model on all clips of a data set (optionally all subjects but one) "
                    "and save a checkpoint with its config, AU list and preparation settings, for "
                    "`microau predict`.")
    add_run_args(t)
    t.add_argument("--out", required=True, help="checkpoint file to write, e.g. model.pt")
    t.add_argument("--hold-out-subject", default=None, metavar="SUBJECT",
                   help="leave this subject out of training (e.g. sub26), to try predict on unseen clips")
    t.add_argument("--workers", type=int, default=None, help="preparation threads")
    t.set_defaults(func=_train_final_main)

    p = sub.add_parser(
        "predict", help="AU probabilities and a label-free emotion guess for your own clip",
        description="Apply a `microau train-final` checkpoint to an onset/apex pair: two image "
                    "files, or two frames of a video (0-based indices, read with OpenCV's "
                    "VideoCapture in decoding order). The frames are prepared as in training "
                    "(face crop, magnification, TV-L1 flow, landmarks); no face in either frame, "
                    "frames of different sizes, or damaged image or video data are errors.")
    p.add_argument("--checkpoint", required=True, help="file written by `microau train-final`")
    p.add_argument("--onset", default=None, metavar="IMAGE", help="onset frame image")
    p.add_argument("--apex", default=None, metavar="IMAGE", help="apex frame image")
    p.add_argument("--video", default=None, help="video file holding both frames")
    p.add_argument("--onset-frame", type=int, default=None, metavar="I", help="onset frame index (0-based)")
    p.add_argument("--apex-frame", type=int, default=None, metavar="J", help="apex frame index (0-based)")
    p.add_argument("--out", default=None, metavar="DIR", help=f"write {REPORT_FILE} and {OVERLAY_FILE} here")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--magnify", default=None, choices=("linear", "learned", "none"),
                   help="must be the magnifier the model was trained with (default: the checkpoint's)")
    p.add_argument("--magnify-checkpoint", default=None, metavar="PATH",
                   help="where the learned magnifier's weights are on this machine, for a model "
                        "trained with --magnify learned")
    p.set_defaults(func=_predict_main)
