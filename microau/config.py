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

LSI_MODES = ("pta", "meanpool", "maxpool", "cls_proj", "none")
GSD_MODES = ("gda", "add_mlp", "cat_mlp", "none")
CONTRASTIVE_MODES = ("miau", "local", "global", "none")
# Readings of Eq. 9-11's targets (see microau.losses.miau_contrastive). 'normalized' is the text as
# written, which equals local OrigCL exactly (two prompts per AU make same-label columns of M_n
# equal); 'literal' is the default because under it MiAUCL and local OrigCL differ.
MIAUCL_TARGETS = ("normalized", "literal", "sigmoid")
DEFAULT_MIAUCL_TARGETS = "literal"
PRECISIONS = ("fp32", "bf16")  # see microau.train.precision
# Eq. 12's MultiTaskLoss: 'none' is the paper's plain sum of per-AU cross-entropies; 'balanced'
# (our reading, for imbalance) weighs each AU's two classes by n / (2 n_class) of the fold's
# training clips, as the region baseline's class_weight='balanced' does (microau.losses).
CLASS_WEIGHTS = ("none", "balanced")
PROMPTS = ("paper", "permuted")  # microau.aus.prompt_source
# Config.pretrained value meaning "the phantom-pretrained backbone of this clip_model, draw
# backbone_seed" (resolved to its cached checkpoint by microau.pretrain.checkpoint)
PHANTOM_TAG = "phantom-pretrained"

# The paper's final trade-off weights per dataset (Sec. IV-C: alpha chosen in Table IV,
# then beta in Table V; the full model's numbers in Tables II/VII/VIII equal those rows).
PAPER_ALPHA_BETA: dict[str, tuple[float, float]] = {"casme2": (0.6, 1.0), "samm": (1.0, 0.6)}

# Fields added after runs were first stored, with the value that computes what runs did before the
# field existed. A run's key leaves such a field out while it holds that value, so adding a field
# never renames the runs it does not change (see microau.train.loso.config_key).
KEY_NEUTRAL: dict[str, Any] = {
    # runs stored before the field existed computed Eq. 9-11 with row-normalised targets
    "miaucl_targets": "normalized",
    "precision": "fp32",
    "class_weights": "none",
    "prompts": "paper",
    "backbone_seed": 0,
    "on_damaged_frame": "error",  # runs before the option existed refused a damaged frame
    "holdout": "subject",  # runs before cross-set evaluation existed left one subject out per fold
}
DAMAGED_FRAME_CHOICES = ("error", "drop")


@dataclass
class Config:
    # --- backbone (Sec. III-A) ---
    clip_model: str = "ViT-B-32"
    pretrained: str | None = "openai"  # 'openai', a local checkpoint path, or None (random init)
    # which draw of the phantom-pretrained backbone (its pretraining seed); only with that tag
    backbone_seed: int = 0
    visual_trainable_blocks: int = 3  # last K visual blocks trained (paper: 3)
    text_trainable_blocks: int = 3  # last K text blocks trained; 0 = fixed text encoder (Table III)
    # --- method ---
    lsi: str = "pta"  # Table VI: pta | meanpool | maxpool; no LSI (Table II): 'cls_proj' | 'none'
    gsd: str = "gda"  # Table VII: gda | add_mlp | cat_mlp; 'none' = no GSD (Table II)
    contrastive: str = "miau"  # Table VIII: miau | local | global | none
    # Eq. 9-11 reading, used only when contrastive='miau' (held at 'normalized' otherwise, so that
    # the run keys of the other contrastive modes do not depend on it)
    miaucl_targets: str = DEFAULT_MIAUCL_TARGETS
    alpha: float | None = None  # Eq. 12 weight of MiAUCL; None = the paper's value for the dataset
    beta: float | None = None  # Eq. 12 weight of GDLoss; None = the paper's value for the dataset
    class_weights: str = "none"  # Eq. 12's CE: 'none' (paper) | 'balanced' (our reading)
    prompts: str = "paper"  # 'paper' | 'permuted' (negative control: prompts moved to other AUs)
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
    precision: str = "fp32"  # fp32 | bf16: autocast of the trainable part (microau.train.precision)
    on_damaged_frame: str = "error"  # error | drop: a clip with a damaged frame stops the run, or is left out
    # which clips each fold tests: 'subject' (LOSO), 'dataset' (leave one data set of a composite
    # out), or the name of one part of a composite (train on the others, test on it); microau.cross
    holdout: str = "subject"
    profile: str = "paper"
    variant: str = "full"
    notes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("lsi", self.lsi, LSI_MODES),
            ("gsd", self.gsd, GSD_MODES),
            ("contrastive", self.contrastive, CONTRASTIVE_MODES),
            ("miaucl_targets", self.miaucl_targets, MIAUCL_TARGETS),
            ("precision", self.precision, PRECISIONS),
            ("class_weights", self.class_weights, CLASS_WEIGHTS),
            ("prompts", self.prompts, PROMPTS),
            ("on_damaged_frame", self.on_damaged_frame, DAMAGED_FRAME_CHOICES),
        ):
            if value not in allowed:
                raise ValueError(f"config.{name}={value!r}; choose one of {allowed}")
        if self.contrastive != "miau":
            # the field does not enter the computation here; one stored value keeps one run key
            self.miaucl_targets = KEY_NEUTRAL["miaucl_targets"]
        if self.pretrained != PHANTOM_TAG:
            self.backbone_seed = KEY_NEUTRAL["backbone_seed"]  # only our pretraining has draws
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
    def uses_landmarks(self) -> bool:
        """Whether the LSI reading picks region tokens (Table I via Eq. 1); the no-LSI readings
        of Table II ('cls_proj', 'none') start from the class token instead."""
        return self.lsi not in ("cls_proj", "none")

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

    @classmethod
    def from_stored_yaml(cls, path: str | Path) -> "Config":
        """The config of a stored run. A field the file lacks was added after the run was stored,
        so the run computed its ``KEY_NEUTRAL`` value, not today's default (a user's config file
        is read with ``from_yaml``, where a missing field takes the default)."""
        values = yaml.safe_load(Path(path).read_text()) or {}
        for name, neutral in KEY_NEUTRAL.items():
            values.setdefault(name, neutral)
        return cls.from_dict(values)

    def replace(self, **changes: Any) -> "Config":
        return dataclasses.replace(self, **changes)


# Profiles: the scale of a run. 'paper' is our closest setting to Sec. IV-A (see the book's
# settings table for where it differs, e.g. the magnifier).
# Quick: the 2-block CLIP at 112 px with 8-px patches (a 14 x 14 token grid, so each AU's landmarks
# fall into several tokens of which only some move: benchmarks/bench_testbed.py, the testbed page),
# its visual tower frozen (the sweep found a trained last block within noise at 2.7 x the time),
# the text tower's last block trained.
_QUICK = dict(clip_model="microau-tiny14", visual_trainable_blocks=0, text_trainable_blocks=1, epochs=8,
              lr_decay_epoch=6, momentum=0.9)
PROFILES: dict[str, dict[str, Any]] = {
    "paper": dict(clip_model="ViT-B-32", pretrained="openai", epochs=80, lr_decay_epoch=40),
    # CPU scale, what the book shows: the tiny CLIP pretrained on a phantom corpus disjoint from the
    # evaluation clips (microau.pretrain, global + local loss; the tag resolves to the cached
    # checkpoint of draw backbone_seed, made on first use), fine-tuned as the paper fine-tunes CLIP.
    "quick": dict(_QUICK, pretrained="phantom-pretrained"),
    # The same from random weights, for comparison (benchmarks/bench_quick_vs_baseline.py).
    "quick-scratch": dict(_QUICK, pretrained=None),
    "smoke": dict(
        clip_model="microau-tiny",
        pretrained=None,
        epochs=2,
        lr_decay_epoch=1,
        n_subjects=4,
        momentum=0.9,
    ),
}

# Variants: one entry per row of the paper's ablation tables. Our reading (the book's
# implementation notes, "Which model each table used"): the reference rows of Tables III, IV and
# VI print the same AU scores as Table VII's Add+MLP row, so those tables ran before GDA was added
# and their variants use gsd='add_mlp'; Table X's "w/o GDA" row (emotion scores, not AU scores) is
# read as the same Add+MLP model.
_ADD_MLP = dict(gsd="add_mlp")
VARIANTS: dict[str, dict[str, Any]] = {
    "full": {},
    # Table II. "LSI x" reads as a per-AU linear projection of the class token, so that GDA sees
    # N distinct features (the class-token reading, lsi='none', is readings/gsd_only_cls_token).
    "table2/lsi_only": dict(gsd="none"),
    "table2/gsd_only": dict(lsi="cls_proj"),
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
    # Readings of the text where it does not determine the computation (Findings chapter). They
    # are not rows of the paper: READING_ROWS says which table each one joins.
    "readings/miaucl_normalized": dict(miaucl_targets="normalized"),
    "readings/miaucl_literal": dict(miaucl_targets="literal"),
    "readings/miaucl_sigmoid": dict(miaucl_targets="sigmoid"),
    "readings/gsd_only_cls_token": dict(lsi="none"),
    # Negative control of the text side (the controls page): every AU given another AU's prompts
    "controls/prompts_permuted": dict(prompts="permuted"),
}

# Our extra rows per paper table, by display label: the same method under each reading.
# The default reading is the paper's own row ('readings/miaucl_literal' names it explicitly).
READING_ROWS: dict[str, dict[str, str]] = {
    "table8": {
        "MiAUCL, normalised targets (as written; = local OrigCL)": "readings/miaucl_normalized",
        "MiAUCL, per-pair sigmoid": "readings/miaucl_sigmoid",
    },
    "table2": {
        "GSD only, class token for every AU": "readings/gsd_only_cls_token",
    },
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
