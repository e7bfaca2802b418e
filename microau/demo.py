"""``microau demo``: build the model and run a few training steps on generated input.

A quick check that an install works end to end (CLIP backbone, LSI, GSD, Eq. 12, SGD step)."""
from __future__ import annotations

import time

import torch


def run_demo(profile: str = "smoke", variant: str = "full", steps: int = 3, batch: int = 8,
             seed: int = 1) -> list[float]:
    from .config import make_config
    from .model.micro_au_clip import MicroAUCLIP, gather_prompt_features
    from .losses import total_loss

    torch.manual_seed(seed)
    cfg = make_config(profile, variant, dataset="phantom-casme2")
    model = MicroAUCLIP(cfg)
    opt = torch.optim.SGD(model.param_groups(), lr=cfg.lr_other, momentum=cfg.momentum)
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(batch, 3, model.image_size, model.image_size, generator=g)
    landmarks = torch.rand(batch, 68, 2, generator=g) * model.image_size
    labels = torch.randint(0, 2, (batch, len(model.aus)), generator=g)
    losses = []
    for _ in range(steps):
        out = model(images, landmarks)
        text = gather_prompt_features(model.prompt_features(), labels) if cfg.uses_text else None
        parts = total_loss(cfg, out, labels, text, model.logit_scale.exp())
        opt.zero_grad()
        parts.total.backward()
        opt.step()
        losses.append(float(parts.total))
    return losses


def _main(args) -> int:
    t0 = time.perf_counter()
    losses = run_demo(args.profile, args.variant, args.steps)
    for i, value in enumerate(losses, 1):
        print(f"step {i}: loss {value:.4f}")
    print(f"demo finished in {time.perf_counter() - t0:.1f} s "
          f"(profile={args.profile}, variant={args.variant}, generated input)")
    return 0


def register(sub) -> None:
    p = sub.add_parser("demo", help="build the model and run a few SGD steps on generated input")
    p.add_argument("--profile", default="smoke")
    p.add_argument("--variant", default="full")
    p.add_argument("--steps", type=int, default=3)
    p.set_defaults(func=_main)
