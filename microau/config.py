"""One configuration object for model, losses and training, with named profiles and variants.

A run is ``make_config(profile, variant, dataset)``: the profile sets the scale (backbone,
epochs, how much data), the variant sets the method (one row of one ablation table of the
paper). Both are plain dictionaries of overrides, so a variant is configuration, never code.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

LSI_MODES = ("pta", "meanpool", "maxpool", "none")
GSD_MODES = ("gda", "add_mlp", "cat_mlp", "none")
CONTRASTIVE_MODES = ("miau", "local", "global", "none")

# The paper's final trade-off weights per dataset (Sec. IV-C: alpha chosen in Table IV,
# then beta in Table V; the full model's numbers in Tables II/VII/VIII equal those rows).
PAPER_ALPHA_BETA: dict[str, tuple[float, float]] = {"casme2": (0.6, 1.0), "samm": (1.0, 0.6)}

# Fields added after runs were first stored, with the value that computes what runs did before the
# field existed. A run's key leaves such a field out while it holds that value, so adding a field
# never renames the runs it does not change (see microau.train.loso.config_key).
KEY_NEUTRAL: dict[str, Any] = {}


@dataclass
class Config:
    # --- backbone (Sec. III-A) ---
    clip_model: str = "ViT-B-32"
    pretrained: str | None = "openai"  # 'openai', a local checkpoint path, or None (random init)
    visual_trainable_blocks: int = 3  # last K visual blocks trained (paper: 3)
    text_trainable_blocks: int = 3  # last K text blocks trained; 0 = fixed text encoder (Table III)
    # --- method ---
    lsi: str = "pta"  # Table VI: pta | meanpool | maxpool; 'none' = no LSI (Table II)
    gsd: str = "gda"  # Table VII: gda | add_mlp | cat_mlp; 'none' = no GSD (Table II)
    contrastive: str = "miau"  # Table VIII: miau | local | global | none
    alpha: float | None = None  # Eq. 12 weight of MiAUCL; None = the paper's value for the dataset
    beta: float | None = None  # Eq. 12 weight of GDLoss; None = the paper's value for the dataset
    pta_hidden: int = 128
    head_hidden: int = 256
    # --- training (Sec. IV-A) ---
    epochs: int = 80
    lr_decay_epoch: int = 40  # lr / 10 from this epoch on
    batch_size: int = 8
    lr_clip: float = 1e-3
    lr_other: float = 1e-2
    momentum: float = 0.0  # the paper names plain SGD; PyTorch's default has no momentum
    seed: int = 1
    # --- data ---
    dataset: str = "phantom-casme2"  # casme2 | samm | phantom-casme2 | phantom-samm
    data_root: str | None = None  # None: phantom in the cache dir; required for real data
    n_subjects: int | None = None  # keep only the first k subjects (smoke profile)
    magnify: str = "linear"  # linear | learned | none (Sec. IV-A uses a learned magnifier)
    magnify_checkpoint: str | None = None
    device: str = "cpu"
    profile: str = "paper"
    variant: str = "full"
    notes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("lsi", self.lsi, LSI_MODES),
            ("gsd", self.gsd, GSD_MODES),
            ("contrastive", self.contrastive, CONTRASTIVE_MODES),
        ):
            if value not in allowed:
                raise ValueError(f"config.{name}={value!r}; choose one of {allowed}")
        if self.visual_trainable_blocks < 0 or self.text_trainable_blocks < 0:
            raise ValueError("trainable block counts must be >= 0")

    @property
    def base_dataset(self) -> str:
        """'casme2' or 'samm' (the phantom copies take the AU set of the set they imitate)."""
        from .data.registry import base_dataset

        return base_dataset(self.dataset)

    @property
    def loss_weights(self) -> tuple[float, float]:
        """(alpha, beta) of Eq. 12, resolving None to the paper's per-dataset choice."""
        paper_a, paper_b = PAPER_ALPHA_BETA.get(self.base_dataset, (1.0, 1.0))
        alpha = paper_a if self.alpha is None else self.alpha
        beta = paper_b if self.beta is None else self.beta
        if self.contrastive == "none":
            alpha = 0.0
        if self.gsd != "gda":  # GDLoss supervises GDA's dependency weights only
            beta = 0.0
        return float(alpha), float(beta)

    @property
    def uses_text(self) -> bool:
        return self.contrastive != "none"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Config":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown config keys {unknown}; known keys: {sorted(known)}")
        return cls(**values)

    @classmethod
    def from_yaml(cls, path: str | Path) -> "Config":
        return cls.from_dict(yaml.safe_load(Path(path).read_text()) or {})

    def replace(self, **changes: Any) -> "Config":
        return dataclasses.replace(self, **changes)


# Profiles: the scale of a run. 'paper' is Sec. IV-A exactly.
PROFILES: dict[str, dict[str, Any]] = {
    "paper": dict(clip_model="ViT-B-32", pretrained="openai", epochs=80, lr_decay_epoch=40),
    # CPU scale: the 4-block tiny CLIP pretrained on the phantom corpus (microau.pretrain; the tag
    # resolves to the cached checkpoint), its last blocks trained as the paper trains ViT-B/32's.
    "quick": dict(
        clip_model="microau-tiny",
        pretrained="phantom-pretrained",
        visual_trainable_blocks=1,
        text_trainable_blocks=1,
        epochs=10,
        lr_decay_epoch=7,
        momentum=0.9,
    ),
    # The quick profile without pretraining (random-init tiny CLIP), for comparison.
    "quick-scratch": dict(
        clip_model="microau-tiny",
        pretrained=None,
        visual_trainable_blocks=1,
        text_trainable_blocks=1,
        epochs=10,
        lr_decay_epoch=7,
        momentum=0.9,
    ),
    "smoke": dict(
        clip_model="microau-tiny",
        pretrained=None,
        epochs=2,
        lr_decay_epoch=1,
        n_subjects=4,
        momentum=0.9,
    ),
}

# Variants: one entry per row of the paper's ablation tables. Tables III, IV, VI and X
# ("w/o GDA") were run before GDA was added: their rows reproduce the paper's Add+MLP numbers
# (0.776/0.912 CASME II, 0.716/0.853 SAMM), so those variants use gsd='add_mlp'.
_ADD_MLP = dict(gsd="add_mlp")
VARIANTS: dict[str, dict[str, Any]] = {
    "full": {},
    # Table II
    "table2/lsi_only": dict(gsd="none"),
    "table2/gsd_only": dict(lsi="none"),
    "table2/lsi_gsd": {},
    # Table III
    "table3/text_fixed": dict(_ADD_MLP, text_trainable_blocks=0),
    "table3/text_finetune": dict(_ADD_MLP),
    # Table IV (alpha sweep, Add+MLP stage)
    **{f"table4/alpha_{a}": dict(_ADD_MLP, alpha=a) for a in (0.2, 0.4, 0.6, 0.8, 1.0)},
    # Table V (beta sweep with the paper's alpha per dataset)
    **{f"table5/beta_{b}": dict(beta=b) for b in (0.2, 0.4, 0.6, 0.8, 1.0)},
    # Table VI
    "table6/meanpool": dict(_ADD_MLP, lsi="meanpool"),
    "table6/maxpool": dict(_ADD_MLP, lsi="maxpool"),
    "table6/pta": dict(_ADD_MLP, lsi="pta"),
    # Table VII
    "table7/cat_mlp": dict(gsd="cat_mlp"),
    "table7/add_mlp": dict(gsd="add_mlp"),
    "table7/gda": {},
    # Table VIII
    "table8/no_cl": dict(contrastive="none"),
    "table8/global_origcl": dict(contrastive="global"),
    "table8/local_origcl": dict(contrastive="local"),
    "table8/miaucl": {},
    # Table X
    "table10/wo_gda": dict(_ADD_MLP),
    "table10/full": {},
}


def make_config(
    profile: str = "quick",
    variant: str = "full",
    dataset: str | None = None,
    **overrides: Any,
) -> Config:
    """Build the config of one run: defaults <- profile <- variant <- explicit overrides.

    Overrides given as None are ignored (so unset command-line options keep the profile's value);
    use ``Config.replace`` to set a field to None.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {sorted(PROFILES)}")
    if variant not in VARIANTS:
        raise ValueError(
            f"unknown variant {variant!r}; choose one of {sorted(VARIANTS)} "
            "(see microau.config.VARIANTS)"
        )
    values: dict[str, Any] = {}
    values.update(PROFILES[profile])
    values.update(VARIANTS[variant])
    if dataset is not None:
        values["dataset"] = dataset
    values.update({k: v for k, v in overrides.items() if v is not None})
    values["profile"], values["variant"] = profile, variant
    return Config.from_dict(values)
