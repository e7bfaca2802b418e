"""The "Across data sets" page (notebooks/cross_dataset.py): the harmonised AU table, per-set
scores of the full model and the region baseline, and their paired comparison. The cross-set
runs are read (or trained) by ``report.open_page`` (``BookPage.cross_runs``, through
``microau.cross``); the page holds only calls."""
from __future__ import annotations


def show_harmonisation(page) -> None:
    """The cross-set AUs each set codes, and how each set spells an AU cell."""
    from IPython.display import display

    from .. import cross
    from ..data import harmonise
    from .tables import styled

    samples = cross.samples_by_set(page.datasets, page.profile, page.data_root, **page.overrides)
    display(styled(harmonise.harmonisation_table(samples), caption="Cross-set AUs in our data"))
    display(styled(harmonise.spelling_table(), caption="How each set spells an AU cell"))


def scored_aus_sentence(runs: dict) -> str:
    """Markdown: the AUs the cross-set runs score (those every AU-coded set scores)."""
    first = next(iter(runs.values()))
    return "Scored AUs (those every AU-coded set scores): " + ", ".join(f"AU{a}" for a in first.meta["aus"]) + "."


def show_cross_scores(page) -> None:
    """Mean F1 per tested set and pooled, the model and the baseline, one table per evaluation,
    and the glued figure ``cross_set_bars``."""
    from IPython.display import Markdown, display
    from myst_nb import glue

    from .. import figures
    from .tables import styled

    runs = page.cross_runs()
    if not runs:
        display(Markdown("Evaluation across data sets needs at least two data sets in `datasets`."))
        glue("cross_set_bars", figures.cross_set_bars([]), display=False)
        return
    scores, _ = page.cross_against_baseline()
    display(Markdown(scored_aus_sentence(runs)))
    for label in runs:
        display(styled(scores[scores.evaluation == label].drop(columns="evaluation"), caption=label))
    glue("cross_set_bars", figures.cross_set_bars([(label, scores[scores.evaluation == label]) for label in runs]),
         display=False)


def show_cross_against_baseline(page) -> None:
    """Per evaluation, the model minus the baseline per set with the paired subject-bootstrap
    interval, and the computed sentences."""
    from IPython.display import Markdown, display

    from .tables import styled

    _, paired = page.cross_against_baseline()
    for label, table in paired.items():
        display(styled(table.drop(columns="verdict"), caption=label))
        display(Markdown("\n".join(f"- {sentence}" for sentence in table.verdict)))
