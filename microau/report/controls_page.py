"""The Controls page (issue 22): each mechanism of the paper where the structure it relies on
exists and where a control removes it, on the phantom, noise-gated; the mechanism statistics with
and without that structure; and the broken-model controls of the ground-truth checks.

- **GDA** relies on AU co-occurrence: GDA against Add+MLP on the phantom and on its '-indep'
  control (AU labels drawn independently, same marginals);
- **PTA** relies on motion at the AU's Table I landmarks: PTA against mean pooling (Table VI's
  Add+MLP stage) on the phantom and on its '-offsite' control (motion moved off the landmarks);
- **MiAUCL's text side** relies on each AU having its own prompts: the full model against no
  contrastive loss, and the same model with every AU given another AU's prompts
  (``controls/prompts_permuted``) against no contrastive loss, on the phantom itself.

Every difference is the paired subject bootstrap of ``microau.noise`` gated by the full model's
seed band on the base data set (``verdicts.seed_spreads``); the sentences are computed from the
two verdicts of each mechanism, never typed. The runs are those of the manifest's
``control_runs`` (``BookPage.runs`` of the page), on phantom data only.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .. import noise
from ..book.manifest import control_datasets
from ..data.registry import is_phantom
from .labels import data_label, ours_label

if TYPE_CHECKING:  # pragma: no cover
    from ..runs import Runs

WORDS = ("holds", "within noise", "reversed", "not judged")  # as on the table pages
EXISTS, REMOVED = "exists", "removed"


@dataclass(frozen=True)
class Control:
    """One mechanism, the structure it relies on and how the control removes it."""

    key: str
    name: str  # as the sentences name the mechanism
    structure: str  # what it relies on
    removed: str  # how the control removes it
    row: str  # the variant with the mechanism
    reference: str  # the variant without it
    row_label: str
    reference_label: str
    suffix: str = ""  # the control phantom ('-indep', '-offsite') where the structure is removed
    removed_row: str | None = None  # or: the variant that removes it on the same data set
    removed_label: str = ""
    statistic: str | None = None  # its ground-truth check (``microau.controls.CHECK_NAMES``)

    def pair(self, dataset: str, setting: str) -> tuple[str, str, str]:
        """(row variant, reference variant, data set) of the comparison in ``setting``."""
        if setting == EXISTS:
            return self.row, self.reference, dataset
        if self.suffix:
            return self.row, self.reference, dataset + self.suffix
        return self.removed_row, self.reference, dataset

    def label(self, setting: str) -> str:
        row = self.removed_label if setting == REMOVED and self.removed_row else self.row_label
        return f"{row} − {self.reference_label}"

    def statistic_run(self, dataset: str, setting: str) -> tuple[str, str]:
        """(variant, data set) whose ground-truth statistic shows the mechanism in ``setting``."""
        row, _, where = self.pair(dataset, setting)
        return row, where


CONTROLS: tuple[Control, ...] = (
    Control("gda", "GDA", "AU co-occurrence", "AU labels drawn independently with the same marginals",
            "full", "table7/add_mlp", "GDA", "Add+MLP", suffix="-indep", statistic="gda_active"),
    Control("pta", "PTA", "motion at the AU's Table I landmarks", "motion moved off the landmarks",
            "table6/pta", "table6/meanpool", "PTA", "mean pooling", suffix="-offsite", statistic="pta"),
    Control("text", "MiAUCL's text side", "each AU's own prompts", "every AU given another AU's prompts",
            "full", "table8/no_cl", "MiAUCL", "no contrastive loss", removed_row="controls/prompts_permuted",
            removed_label="MiAUCL, prompts permuted", statistic="similarity"),
)


def control_keys() -> set[tuple[str, str]]:
    """(variant, suffix) of every run the controls need on a base phantom (the manifest lists them)."""
    out = set()
    for c in CONTROLS:
        for setting in (EXISTS, REMOVED):
            row, ref, where = c.pair("", setting)
            out |= {(row, where), (ref, where)}
    return out


def word(v: noise.Verdict) -> str:
    """The verdict of a difference row − reference in the table pages' words: 'holds' (the
    mechanism's side is above, outside noise), 'reversed', 'within noise', 'not judged'."""
    if v.status == "unjudged":
        return "not judged"
    return {1: "holds", -1: "reversed"}.get(v.direction, "within noise")


# --------------------------------------------------------------------------- effects on F1


def control_effects(runs: "Runs", spreads: dict | None = None, n_boot: int = 2000) -> pd.DataFrame:
    """Per base phantom and mechanism, its mean-F1 effect (row − reference) where its structure
    exists and where it is removed, each with the paired subject-bootstrap interval, the noise band
    (the full model's seed band on the base data set) and the verdict word. ``spreads``: data set
    -> SeedSpread (default: ``verdicts.seed_spreads(runs)``). A comparison whose runs are missing
    is left out."""
    if spreads is None:
        from .verdicts import seed_spreads

        spreads = seed_spreads(runs)
    rows = []
    for dataset in control_datasets(runs.datasets):
        for c in CONTROLS:
            for setting in (EXISTS, REMOVED):
                row, ref, where = c.pair(dataset, setting)
                a, b = runs.get(row, where), runs.get(ref, where)
                if a is None or b is None:
                    continue
                diff, v = noise.paired_verdict(a, b, spreads.get(dataset), n_boot=n_boot,
                                               names=(f"{row} on {where}", f"{ref} on {where}"))
                rows.append({
                    "data": ours_label(dataset), "mechanism": c.name, "structure": setting,
                    "run on": data_label(where), "comparison": c.label(setting),
                    "difference": diff.difference, "interval low": v.low, "interval high": v.high,
                    "noise band ±": v.band, "verdict": word(v),
                    "_verdict": v, "_control": c.key, "_dataset": dataset,
                })
    return pd.DataFrame(rows)


def shown_effects(effects: pd.DataFrame) -> pd.DataFrame:
    """The effects table as the page shows it (helper columns dropped)."""
    if effects.empty:
        return effects
    keep = [c for c in effects.columns if not c.startswith("_")]
    return effects[keep].set_index(["data", "mechanism", "structure"])


_VERB = {"holds": "helps", "reversed": "hurts", "within noise": "is within noise", "not judged": "is not judged"}
_BOTH = {"holds": "helps in both settings", "reversed": "hurts in both settings",
         "within noise": "is within noise in both settings", "not judged": "is not judged in either setting"}


def control_sentence(c: Control, with_v: noise.Verdict, without_v: noise.Verdict) -> str:
    """Whether the mechanism helps only where its structure exists, from its two verdicts (where
    the structure exists, where it is removed): computed, never a typed direction."""
    w, wo = word(with_v), word(without_v)
    if w == wo:
        core = (f"{_BOTH[w]}: where its structure ({c.structure}) exists and where it is removed "
                f"({c.removed})")
    elif (w, wo) == ("holds", "within noise"):
        core = f"helps where its structure ({c.structure}) exists and not where it is removed ({c.removed})"
    else:
        core = (f"{_VERB[w]} where its structure ({c.structure}) exists and {_VERB[wo]} where it is "
                f"removed ({c.removed})")
    numbers = (f"{c.label(EXISTS)}: {_numbers(with_v)} with the structure; {c.label(REMOVED)}: "
               f"{_numbers(without_v)} without it; {_band(with_v)}")
    if "not judged" in (w, wo):
        end = "With no seed spread measured, no direction is claimed where it is not judged."
    elif w == "holds" and wo != "holds":
        end = f"It helps only where its structure exists, as a mechanism that relies on {c.structure} should."
    elif w == "holds":
        end = (f"It helps without its structure too, so its gain here does not come from {c.structure} "
               "alone.")
    elif wo == "holds":
        end = f"It helps only where its structure is removed: the opposite of relying on {c.structure}."
    else:
        end = f"These runs show no gain to attribute to {c.structure}."
    return f"*{c.name}* {core}. {numbers}. {end}"


def _numbers(v: noise.Verdict) -> str:
    return f"{v.difference:+.3f} (interval {v.low:+.3f} to {v.high:+.3f})"


def _band(v: noise.Verdict) -> str:
    if not np.isfinite(v.band):
        return "no seed spread measured"
    return f"noise band ±{v.band:.3f}" + (f" over {v.over}" if v.over else "")


def describe_controls(effects: pd.DataFrame, datasets) -> str:
    """One paragraph per base phantom, one computed sentence per mechanism (:func:`control_sentence`);
    data sets without phantom controls (licensed data) are said to need the phantom."""
    lines = []
    for dataset in datasets:
        if dataset not in control_datasets([dataset]):
            kind = "real data carry" if not is_phantom(dataset) else "this phantom has"
            lines.append(f"**{ours_label(dataset)}**: {kind} no control copy without the structure a "
                         "mechanism relies on; the controls need the phantom (`phantom-casme2`, "
                         "`phantom-samm`), whose control copies are simulated.")
            continue
        part = effects[effects["_dataset"] == dataset] if not effects.empty else effects
        bits = []
        for c in CONTROLS:
            got = {r["structure"]: r["_verdict"] for _, r in part.iterrows() if r["_control"] == c.key} \
                if not part.empty else {}
            if EXISTS in got and REMOVED in got:
                bits.append(control_sentence(c, got[EXISTS], got[REMOVED]))
            else:
                bits.append(f"*{c.name}*: not computed (its runs with or without the structure are missing).")
        lines.append(f"**{ours_label(dataset)}**:\n\n" + "\n".join(f"- {b}" for b in bits))
    return "\n\n".join(lines)


def controls_plot(effects: pd.DataFrame) -> "object":
    """Each mechanism's effect with its structure and without (dots with their paired intervals),
    the noise band shaded around zero; one panel per base phantom."""
    from ..figures import OURS_COLORS, _close, _figure

    datasets = list(dict.fromkeys(effects["data"])) if not effects.empty else []
    fig, axes = _figure(1, max(1, len(datasets)), 0.45 * (2 * len(CONTROLS)) + 1.4, sharey=True)
    if not datasets:
        ax = axes[0][0]
        ax.text(0.5, 0.5, "the controls need the phantom", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return _close(fig)
    labels = [f"{c.name}: structure {s}" for c in CONTROLS for s in (EXISTS, REMOVED)]
    for k, (ax, data) in enumerate(zip(axes[0], datasets)):
        part = effects[effects["data"] == data]
        band = part["noise band ±"].dropna()
        if len(band):
            ax.axvspan(-band.iloc[0], band.iloc[0], color="#dddddd", zorder=1, label="noise band")
        for i, label in enumerate(labels):
            c, s = CONTROLS[i // 2], (EXISTS, REMOVED)[i % 2]
            r = part[(part["_control"] == c.key) & (part["structure"] == s)]
            if r.empty:
                continue
            r = r.iloc[0]
            x = r["difference"]
            err = [[x - r["interval low"]], [r["interval high"] - x]]
            ax.errorbar([x], [i], xerr=err, fmt="o" if s == EXISTS else "s", capsize=2, zorder=3,
                        color=OURS_COLORS[k % 4], mfc=OURS_COLORS[k % 4] if s == EXISTS else "white")
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(range(len(labels)), labels)
        ax.invert_yaxis()
        ax.set_xlabel("row − reference (mean F1)")
        ax.set_title(data)
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return _close(fig)


# --------------------------------------------------------------------------- ground-truth statistics


def truths_of(runs: "Runs") -> "_Truths":
    """The ground-truth cache of ``runs`` (kept in its context: computed once per page)."""
    return runs.context.setdefault("ground_truth", _Truths())


class _Truths:
    """Each data set's ground truth, computed once (the clips of every run on one data set are the
    same; a run on other clips gets its own)."""

    def __init__(self):
        self._by = {}

    def __call__(self, result):
        from .. import mechanisms

        key = result.config.dataset
        truth = self._by.get(key)
        if truth is None or truth.ids != list(dict.fromkeys(result.predictions["id"])):
            truth = mechanisms.ground_truth_for_run(result)
            self._by[key] = truth
        return truth


def statistic_spreads(runs: "Runs", truths=None) -> dict[str, dict]:
    """Per base phantom, the seed spread of each ground-truth check over the full model's seed runs
    on it (``mechanisms.seed_spreads``): the band every statistic on that phantom and its controls
    is judged with. Empty for a data set without seed runs."""
    from .. import mechanisms
    from .sentences import seed_runs_like
    from .verdicts import REFERENCE_VARIANT, seed_runs_of

    truths = truths or truths_of(runs)
    if "statistic_spreads" in runs.context:
        return runs.context["statistic_spreads"]
    seeded_all = seed_runs_of(runs)
    out = {}
    for dataset in control_datasets(runs.datasets):
        full = runs.get(REFERENCE_VARIANT, dataset)
        if full is None:
            out[dataset] = {}
            continue
        seeded = list(seed_runs_like(seeded_all, full, dataset).values())
        out[dataset] = mechanisms.seed_spreads(seeded, truths(full)) if len(seeded) >= 2 else {}
    runs.context["statistic_spreads"] = out
    return out


def mechanism_statistics(runs: "Runs", spreads: dict | None = None, n_boot: int = 500, truths=None) -> pd.DataFrame:
    """Each mechanism's ground-truth check (``microau.controls.judge_arrays``: PTA's excess weight
    on the AU's peak tokens, W_d's excess mass on the active AUs, the same-label feature
    separation) on its run where the structure exists and where it is removed, with its
    subject-bootstrap interval, the band of the full model's seed spread of that check on the base
    phantom (``spreads``: :func:`statistic_spreads`) and the verdict ('holds': above chance outside
    noise)."""
    from ..controls import CHECK_NAMES, judge_arrays

    truths = truths or truths_of(runs)
    spreads = spreads if spreads is not None else statistic_spreads(runs, truths)
    rows = []
    for dataset in control_datasets(runs.datasets):
        for c in CONTROLS:
            if not c.statistic:
                continue
            for setting in (EXISTS, REMOVED):
                variant, where = c.statistic_run(dataset, setting)
                result = runs.get(variant, where)
                if result is None:
                    continue
                arr = result.arrays()
                found = judge_arrays(arr, truths(result), spreads.get(dataset, {}), n_boot=n_boot)
                if c.statistic not in found:
                    continue
                v = found[c.statistic]
                rows.append({
                    "data": ours_label(dataset), "mechanism": c.name, "check": CHECK_NAMES[c.statistic],
                    "structure": setting, "run": f"{_variant_label(c, setting)} on {data_label(where)}",
                    "value": v.difference, "interval low": v.low, "interval high": v.high,
                    "noise band ±": v.band, "verdict": word(v) if np.isfinite(v.difference) else "no clip counted",
                    "_verdict": v, "_control": c.key, "_dataset": dataset,
                })
    return pd.DataFrame(rows)


def _variant_label(c: Control, setting: str) -> str:
    return c.removed_label if setting == REMOVED and c.removed_row else c.row_label


def shown_statistics(stats: pd.DataFrame) -> pd.DataFrame:
    if stats.empty:
        return stats
    keep = [c for c in stats.columns if not c.startswith("_")]
    return stats[keep].set_index(["data", "mechanism", "structure"])


def describe_statistics(stats: pd.DataFrame) -> str:
    """Per base phantom and mechanism, whether its ground-truth check holds with the structure and
    without it, in computed words."""
    lines = []
    if stats.empty:
        return ""
    for dataset, part in stats.groupby("_dataset", sort=False):
        bits = []
        for c in CONTROLS:
            got = {r["structure"]: r for _, r in part.iterrows() if r["_control"] == c.key}
            if not got:
                continue
            said = []
            for setting in (EXISTS, REMOVED):
                if setting not in got:
                    continue
                r = got[setting]
                v = r["_verdict"]
                where = "where the structure exists" if setting == EXISTS else "where it is removed"
                if r["verdict"] == "no clip counted":
                    said.append(f"counts no clip {where}")
                    continue
                state = {"holds": "holds", "reversed": "is reversed (below chance)",
                         "within noise": "is within noise", "not judged": "is not judged"}[r["verdict"]]
                said.append(f"{state} {where} ({v.difference:+.3f}, interval {v.low:+.3f} to "
                            f"{v.high:+.3f}; {_band(v)})")
            check = next(iter(got.values()))["check"]
            words = {k: got[k]["verdict"] for k in got}
            end = ""
            if words.get(EXISTS) == "holds" and words.get(REMOVED) in ("within noise", "reversed", "no clip counted"):
                end = " The mechanism finds the structure where it exists and nothing like it where it is removed."
            elif words.get(EXISTS) == "holds" and words.get(REMOVED) == "holds":
                end = " The check holds without the structure too: it does not single out that structure."
            bits.append(f"*{c.name}*'s check ({check}) " + "; it ".join(said) + "." + end)
        lines.append(f"**{ours_label(dataset)}**: " + " ".join(bits))
    return "\n\n".join(lines)


# --------------------------------------------------------------------------- broken-model controls


def broken_model_checks(runs: "Runs", spreads: dict | None = None, n_boot: int = 500,
                        truths=None) -> dict[str, list]:
    """Per base phantom, every ground-truth check on the full model's run and on its deliberately
    broken copy (``microau.controls.broken_model_rows``), judged with the full model's seed spread
    of each check. The full model has PTA weights and W_d, so its run serves every check."""
    from ..controls import broken_model_rows
    from .verdicts import REFERENCE_VARIANT

    truths = truths or truths_of(runs)
    spreads = spreads if spreads is not None else statistic_spreads(runs, truths)
    out = {}
    for dataset in control_datasets(runs.datasets):
        full = runs.get(REFERENCE_VARIANT, dataset)
        if full is not None:
            out[dataset] = broken_model_rows(full, truths(full), spreads.get(dataset, {}), n_boot=n_boot)
    return out


def broken_table(checks: dict[str, list]) -> pd.DataFrame:
    from ..controls import broken_model_table

    parts = [broken_model_table(rows, ours_label(d)) for d, rows in checks.items()]
    return pd.concat(parts).set_index(["data", "check"]) if parts else pd.DataFrame()


def describe_broken(checks: dict[str, list]) -> str:
    """Per base phantom: how many checks caught the broken copy, which did not (a defect, said so),
    and which pass the model itself; nothing is claimed where no seed spread was measured."""
    from ..controls import CHECK_NAMES

    lines = []
    for dataset, rows in checks.items():
        n = len(rows)
        judged = [r for r in rows if r.broken.status != "unjudged"]
        if not judged:
            lines.append(f"**{ours_label(dataset)}**: none of the {n} checks could be judged (no seed spread "
                         "of the checks measured), so catching the broken copies shows nothing here.")
            continue
        missed = [r for r in judged if not r.caught]
        caught = len(judged) - len(missed)
        line = f"**{ours_label(dataset)}**: {caught} of the {len(judged)} judged checks caught the broken copy"
        line += " (did not pass it)." if caught else "."
        if missed:
            names = "; ".join(f"*{CHECK_NAMES[r.check]}*" for r in missed)
            line += (f" **Defect**: {names} passed the broken copy as well; a check that passes a broken "
                     "model cannot tell a working mechanism from a broken one, so its verdict on the "
                     "model is not evidence.")
        passing = [r for r in judged if r.discriminates]
        idle = [r for r in judged if r.caught and r.model.direction <= 0]
        if passing:
            line += (f" {len(passing)} of them pass{'es' if len(passing) == 1 else ''} the model and "
                     "fail its broken copy.")
        if idle:
            names = "; ".join(f"*{CHECK_NAMES[r.check]}*" for r in idle)
            verb = "does" if len(idle) == 1 else "do"
            line += (f" Of those that caught it, {names} {verb} not pass the model itself either, so "
                     "catching the broken copy shows little there.")
        if len(judged) < n:
            k = n - len(judged)
            line += f" {k} check{'s were' if k > 1 else ' was'} not judged (no seed spread measured)."
        lines.append(line)
    return "\n\n".join(lines)


# --------------------------------------------------------------------------- what the page displays


def _note(page) -> str:
    return describe_controls(pd.DataFrame(), [d for d in page.datasets if d not in control_datasets([d])])


def show_control_effects(page) -> None:
    """The effects table, its figure glued as 'controls_effects', and the sentences."""
    from IPython.display import Markdown, display
    from myst_nb import glue

    from .tables import styled

    effects = control_effects(page.runs, page.spreads())
    glue("controls_effects", controls_plot(effects), display=False)
    if not effects.empty:
        display(styled(shown_effects(effects), caption="Row minus reference, mean F1, with the structure and "
                       "without it (verdict: holds = the mechanism's row above its reference outside noise)"))
    display(Markdown(describe_controls(effects, page.datasets)))


def show_mechanism_statistics(page) -> None:
    """The ground-truth statistics with and without the structure, and their sentences."""
    from IPython.display import Markdown, display

    from .tables import styled

    stats = mechanism_statistics(page.runs)
    if stats.empty:
        display(Markdown(_note(page) or "No run with a ground-truth statistic was found."))
        return
    display(styled(shown_statistics(stats), caption="Ground-truth checks with the structure and without it "
                   "(value above chance; verdict: holds = above chance outside noise)"))
    display(Markdown(describe_statistics(stats)))


def show_broken_models(page) -> None:
    """The broken-model table of the full model's run on each base phantom, and its count."""
    from IPython.display import Markdown, display

    from .tables import styled

    checks = broken_model_checks(page.runs)
    if not checks:
        display(Markdown(_note(page) or "The full model's run on a phantom is missing."))
        return
    display(styled(broken_table(checks), caption="Each check on the full model and on its broken copy"))
    display(Markdown(describe_broken(checks)))
