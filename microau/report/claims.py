"""What each book page tests: the paper's claim it checks, in words (never numbers: those come from
``microau/paper_results.yaml`` and the runs), and the paper's table or figure it regenerates.
The pages open with it, the landing page lists it, the Findings chapter groups its claims by it."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Claim:
    shows: str  # the paper's table or figure the page regenerates ('' for our own pages)
    claim: str  # what the paper says that the page checks, in words
    kind: str = "table"  # 'table' | 'figure' | 'ours' (a page of our own: data, noise, demo)


CLAIMS: dict[str, Claim] = {
    "summary": Claim("", "What the book found, page by page.", "ours"),
    "data_overview": Claim("Sec. IV-A", "CASME II and SAMM, coded for AUs, evaluated leave-one-subject-out.",
                           "ours"),
    "fig3_au_regions": Claim("Fig. 3 and Table I", "Each AU's landmarks (Table I) select its own patch "
                             "tokens through Eq. 1.", "figure"),
    "table2_ablation": Claim("Table II", "Removing LSI or GSD lowers F1 on both data sets; removing LSI "
                             "costs more."),
    "table3_text_encoder": Claim("Table III", "Fine-tuning the text encoder beats keeping it fixed, and "
                                 "drives a prompt and its negation apart (lower TextSi)."),
    "table4_alpha": Claim("Table IV", "The paper's chosen weight α of MiAUCL scores best on each data set."),
    "table5_beta": Claim("Table V", "The paper's chosen weight β of GDLoss scores best on each data set."),
    "table6_pta": Claim("Table VI", "Patch Token Attention beats mean and max pooling of an AU's tokens."),
    "table7_gda": Claim("Table VII", "Global Dependency Attention beats Add+MLP and Cat+MLP."),
    "table8_miaucl": Claim("Table VIII", "MiAUCL beats no contrastive loss, global OrigCL and local "
                           "OrigCL."),
    "fig5_heatmaps": Claim("Fig. 5", "PTA's weights concentrate on the active AU's region; GDA's "
                           "dependency weights follow the AUs that occur together.", "figure"),
    "fig6_similarity": Claim("Fig. 6", "Under MiAUCL two clips with the same AU label have more alike "
                             "features than under local OrigCL.", "figure"),
    "fig7_tsne": Claim("Fig. 7", "The full model separates active from inactive clips better than the "
                       "model without LSI or without GSD.", "figure"),
    "table9_sota": Claim("Table IX", "Micro-AU CLIP scores above the published AU detectors on CASME II "
                         "and SAMM."),
    "table10_mer": Claim("Table X", "Without emotion labels, Micro-AU CLIP recognises emotions, better "
                         "with GDA than without."),
    "seed_spread": Claim("", "The paper reports one training run per row; this page measures how far "
                         "another seed moves a score.", "ours"),
    "findings": Claim("", "The paper's ablation claims, and the points its text leaves open.", "ours"),
    "controls": Claim("", "Whether each mechanism (GDA, PTA, MiAUCL's text side) helps where the structure "
                      "it relies on exists and not where a control removes it, and whether each "
                      "ground-truth check fails a deliberately broken model.", "ours"),
    "predict_demo": Claim("", "A trained model applied to clips it has not seen.", "ours"),
    "cross_dataset": Claim("", "The full model and the region baseline trained on some data sets and tested on "
                           "others: how far a detector carries across sets.", "ours"),
}


def claim_of(page: str) -> Claim:
    """The claim a page checks (a page of our own gets what it shows instead)."""
    return CLAIMS.get(page, Claim("", "", "ours"))
