"""``microau pretrain``: pretrain (or reuse) the phantom-pretrained backbone."""
from __future__ import annotations

import json


def _main(args) -> int:
    import dataclasses

    from .checkpoint import checkpoint_path, ensure_backbone
    from .contrastive import PretrainSettings
    from .corpus import CorpusSettings

    corpus = CorpusSettings() if args.pairs is None else CorpusSettings(n_pairs=args.pairs)
    settings = PretrainSettings(corpus=corpus)
    if args.epochs is not None:
        settings = dataclasses.replace(settings, epochs=args.epochs)
    if args.where:
        print(checkpoint_path(args.model, settings))
        return 0
    path = ensure_backbone(args.model, progress=not args.no_progress, settings=settings, force=args.force)
    record = json.loads(path.with_suffix(".json").read_text())
    rep = record["report"]
    print(f"phantom-pretrained backbone ({args.model}): {path}")
    print(f"  {rep['pairs']} pairs ({rep['distinct_sentences']} distinct sentences), {rep['steps']} steps, "
          f"loss {rep['loss_first']:.3f} -> {rep['loss_last_10']:.3f}, {rep['total_s']:.0f} s when it was made")
    print("  use it with Config.pretrained='phantom-pretrained' (or this path); "
          "numbers computed with it are 'phantom, phantom-pretrained backbone'")
    return 0


def register(sub) -> None:
    p = sub.add_parser("pretrain", help="pretrain the small CLIP on a phantom flow/sentence corpus (cached)")
    p.add_argument("--model", default="microau-tiny", help="open_clip model name (default microau-tiny)")
    p.add_argument("--pairs", type=int, default=None, help="corpus size (default: the settings' 10240)")
    p.add_argument("--epochs", type=int, default=None, help="passes over the corpus")
    p.add_argument("--force", action="store_true", help="pretrain again even if the cache holds it")
    p.add_argument("--where", action="store_true", help="print the checkpoint path and exit")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_main)
