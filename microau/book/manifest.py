"""The book's executed pages, in book order, and the LOSO runs each shows. The one list of pages:
``microau reproduce`` trains these runs, then executes these notebooks; the placeholder pages and
the tests read it too."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .. import config
from ..paper import paper_table


@dataclass(frozen=True)
class Page:
    name: str  # notebooks/<name>.py (jupytext) and .ipynb (papermill)
    chapter: str  # the book part it belongs to
    table: str | None = None  # the paper table whose rows it runs (microau/paper_results.yaml)
    figure_variants: dict[str, str] = field(default_factory=dict)  # display name -> variant
    extra_variants: tuple[str, ...] = ()  # further runs the page shows (at the default seed)
    includes: tuple[str, ...] = ()  # other pages whose runs this page reads
    seeds: tuple[int, ...] = ()  # seeds of the seed-spread runs
    # backbone draws (pretraining seeds) the seed runs of ``backbone_variants`` also span: each
    # such variant is trained on every draw x seed (keys ``noise.draw_key``); the other variants on
    # draw 0 only. A profile without a pretrained backbone has one draw (the duplicates are dropped).
    backbones: tuple[int, ...] = ()
    backbone_variants: tuple[str, ...] = ()
    seed_variants: dict[str, str] = field(default_factory=dict)  # variant -> 'all' | 'last' data set
    cross_modes: tuple[str, ...] = ()  # cross-set evaluations of the full model (microau.cross.MODES)
    # runs on the phantom controls (issue 22): (variant, control suffix), the suffix '-indep' or
    # '-offsite' naming the control phantom of each base phantom (registry.CONTROLS), '' the base
    # phantom itself; trained for phantom-casme2 / phantom-samm only (``control_datasets``)
    control_runs: tuple[tuple[str, str], ...] = ()

    @property
    def variants(self) -> list[str]:
        """The variants whose runs this page shows at the default seed ([] for none): a table's
        rows and our extra rows for the readings of that table (``config.READING_ROWS``)."""
        out = []
        if self.table:
            out += list(paper_table(self.table).variants)
            out += list(getattr(config, "READING_ROWS", {}).get(self.table, {}).values())
        out += list(self.figure_variants.values()) + list(self.extra_variants) + list(self.seed_variants)
        for name in self.includes:
            out += page(name).variants
        return list(dict.fromkeys(out))

    def control_keys(self, datasets) -> list[tuple[str, str]]:
        """(variant, data set) of every control run this page shows: each entry of
        ``control_runs`` on every data set that has phantom controls (none on licensed data)."""
        return [(v, f"{d}{suffix}") for d in control_datasets(datasets) for v, suffix in self.control_runs]

    def seed_runs(self, datasets) -> list[tuple[str, str, int]]:
        """(variant, dataset, draw key) of every seed-spread run this page shows: 'all' variants on
        every data set, 'last' variants on the last one only (to keep the CPU budget); the keys
        are the seeds on backbone draw 0, and on every draw of ``backbones`` for the variants in
        ``backbone_variants`` (``noise.draw_key``)."""
        from ..draws import draw_key

        datasets = list(datasets)
        out = []
        for v, where in self.seed_variants.items():
            draws = (self.backbones or (0,)) if v in self.backbone_variants else (0,)
            out += [(v, d, draw_key(b, s)) for d in (datasets if where == "all" else datasets[-1:])
                    for b in draws for s in self.seeds]
        return out


PAGES: tuple[Page, ...] = (
    Page("data_overview", "data", extra_variants=("full",)),  # the full model against the baseline
    Page("fig3_au_regions", "reproduction"),
    Page("table2_ablation", "reproduction", table="table2"),
    Page("table3_text_encoder", "reproduction", table="table3"),
    Page("table4_alpha", "reproduction", table="table4"),
    Page("table5_beta", "reproduction", table="table5"),
    Page("table6_pta", "reproduction", table="table6"),
    Page("table7_gda", "reproduction", table="table7"),
    Page("table8_miaucl", "reproduction", table="table8"),
    Page("fig5_heatmaps", "reproduction", figure_variants={"full model": "full"}),
    Page("fig6_similarity", "reproduction",
         figure_variants={"local OrigCL": "table8/local_origcl", "MiAUCL": "table8/miaucl"}),
    Page("fig7_tsne", "reproduction", figure_variants={
        "without LSI": "table2/gsd_only", "without GSD": "table2/lsi_only", "full model": "full"}),
    Page("table9_sota", "reproduction", table="table9"),
    Page("table10_mer", "reproduction", table="table10"),
    Page("seed_spread", "findings", seeds=(1, 2, 3, 4, 5), backbones=(0, 1, 2), backbone_variants=("full",),
         seed_variants={
        "full": "all", "table2/lsi_only": "last", "table2/gsd_only": "last", "table8/no_cl": "last",
        "table8/global_origcl": "last", "table8/local_origcl": "last"}),
    Page("findings", "findings", includes=(
        "table2_ablation", "table3_text_encoder", "table6_pta", "table7_gda", "table8_miaucl")),
    # the mechanisms where their structure exists and where a control phantom removes it (GDA:
    # co-occurrence, '-indep'; PTA: motion on the Table I landmarks, '-offsite'), and the text side
    # against prompts permuted across AUs; after the seed page, whose runs set its noise band
    Page("controls", "findings", control_runs=(
        ("full", ""), ("table7/add_mlp", ""), ("full", "-indep"), ("table7/add_mlp", "-indep"),
        ("table6/pta", ""), ("table6/meanpool", ""), ("table6/pta", "-offsite"), ("table6/meanpool", "-offsite"),
        ("table8/no_cl", ""), ("controls/prompts_permuted", ""))),
    Page("predict_demo", "own data"),  # applies a trained model to one clip
    Page("cross_dataset", "beyond", cross_modes=("loso", "leave-one-dataset-out")),
    # the landing page (the book's root): reads whatever runs exist, trains none, so it comes last
    Page("summary", "landing"),
)
SEED_PAGE = "seed_spread"
LANDING_PAGE = "summary"
NOTEBOOKS: tuple[str, ...] = tuple(p.name for p in PAGES)


def page(name: str) -> Page:
    for p in PAGES:
        if p.name == name:
            return p
    raise ValueError(f"unknown page {name!r}; choose from {', '.join(NOTEBOOKS)}")


def control_datasets(datasets) -> list[str]:
    """The data sets of ``datasets`` that have phantom controls (phantom-casme2, phantom-samm)."""
    from ..data.registry import CONTROL_PHANTOMS

    return [d for d in datasets if any(c.startswith(f"{d}-") for c in CONTROL_PHANTOMS)]


def figure_variants(name: str) -> dict[str, str]:
    """Display name -> variant of a figure page (what its notebook plots)."""
    return dict(page(name).figure_variants)


def notebook_variants(name: str) -> list[str]:
    return page(name).variants


def select(only: str | Sequence[str] | None) -> list[str]:
    """Notebook names from ``--only`` values, each comma-separated (all when empty), in book order."""
    if not only:
        return list(NOTEBOOKS)
    if not isinstance(only, str):
        only = ",".join(only)
    names = [n.strip().removesuffix(".ipynb").removesuffix(".py") for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in NOTEBOOKS]
    if unknown:
        raise ValueError(f"unknown notebook(s) {unknown}; choose from {', '.join(NOTEBOOKS)}")
    return [n for n in NOTEBOOKS if n in names]

