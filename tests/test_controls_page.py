"""The Controls page (issue 22, item 5): each mechanism's effect where its structure exists and where
a control removes it, noise-gated, in computed sentences; the ground-truth statistics with and
without the structure; the broken-model count. Small hand-made runs, no training."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from microau import controls, noise
from microau.book import manifest
from microau.report import controls_page as cp
from microau.runs import Runs

SET = "phantom-samm"
TIGHT = {SET: noise.spread_of_values([0.80, 0.801, 0.799])}
LOOSE = {SET: noise.spread_of_values([0.1, 0.9, 0.5])}


def _run(correct: float, seed: int = 0, n: int = 48, flip: int = 1):
    """A run on ``n`` clips of 8 subjects and 2 AUs (same clips and labels for every run); each
    prediction right with probability ``correct``."""
    labels = np.random.default_rng(0).integers(0, 2, (n, 2))
    wrong = np.random.default_rng(seed + flip).random((n, 2)) > correct
    preds = np.where(wrong, 1 - labels, labels)
    rows = [(f"c{i}", f"s{i % 8}", 0, f"AU{a}", int(labels[i, k]), float(preds[i, k]), int(preds[i, k]))
            for i in range(n) for k, a in enumerate((1, 2))]
    return SimpleNamespace(predictions=pd.DataFrame(rows, columns=["id", "subject", "fold", "au", "label",
                                                                   "prob", "pred"]))


GOOD, BAD = _run(1.0), _run(0.4)


def _runs(with_effect: bool, without_effect: bool) -> Runs:
    """Every control run on phantom-samm: each mechanism's row beats its reference where the flag says."""
    results = {}
    for c in cp.CONTROLS:
        for setting, effect in ((cp.EXISTS, with_effect), (cp.REMOVED, without_effect)):
            row, ref, where = c.pair(SET, setting)
            results[(ref, where)] = BAD
            results[(row, where)] = GOOD if effect else BAD
    return Runs(results=results, datasets=(SET,), profile="smoke")


def _sentences(effects):
    return cp.describe_controls(effects, [SET])


def test_the_page_lists_the_runs_the_controls_compare():
    page = manifest.page("controls")
    assert page.chapter == "findings" and not page.variants  # nothing trained on licensed data
    assert set(page.control_runs) == cp.control_keys()
    keys = page.control_keys(["phantom-casme2", "phantom-samm", "casme2"])
    assert ("table7/add_mlp", "phantom-casme2-indep") in keys and ("table6/pta", "phantom-samm-offsite") in keys
    assert not [k for k in keys if k[1] == "casme2" or k[1].startswith("casme2")]
    assert page.control_keys(["casme2", "samm"]) == []
    assert manifest.NOTEBOOKS.index("controls") > manifest.NOTEBOOKS.index(manifest.SEED_PAGE)


def test_control_run_configs_are_what_reproduce_trains():
    from microau.runs import control_run_configs

    configs = control_run_configs("controls", ["phantom-samm"], "smoke")
    assert len(configs) == len(manifest.page("controls").control_runs)
    assert configs[("full", "phantom-samm-indep")].dataset == "phantom-samm-indep"
    assert configs[("controls/prompts_permuted", "phantom-samm")].prompts == "permuted"
    assert control_run_configs("seed_spread", ["phantom-samm"], "smoke") == {}


def test_a_mechanism_that_helps_only_with_its_structure_is_said_to():
    effects = cp.control_effects(_runs(True, False), TIGHT, n_boot=300)
    assert len(effects) == 2 * len(cp.CONTROLS)
    got = effects.set_index(["_control", "structure"])["verdict"]
    assert (got.xs(cp.EXISTS, level="structure") == "holds").all()
    assert (got.xs(cp.REMOVED, level="structure") == "within noise").all()
    gda = effects[(effects._control == "gda") & (effects.structure == cp.EXISTS)].iloc[0]
    assert gda["difference"] == pytest.approx(1.0 - noise.paired_bootstrap_f1(BAD, GOOD).a)
    text = _sentences(effects)
    assert "*GDA* helps where its structure (AU co-occurrence) exists and not where it is removed" in text
    assert text.count("It helps only where its structure exists") == len(cp.CONTROLS)
    assert "±" in text and "interval" in text


def test_the_same_effect_with_and_without_structure_is_not_called_structure_specific():
    effects = cp.control_effects(_runs(True, True), TIGHT, n_boot=300)
    assert (effects["verdict"] == "holds").all()
    text = _sentences(effects)
    assert "only where its structure exists" not in text and "not where it is removed" not in text
    assert text.count("helps in both settings") == len(cp.CONTROLS)
    assert "does not come from AU co-occurrence alone" in text
    same = cp.control_effects(_runs(False, False), TIGHT, n_boot=300)
    text = _sentences(same)
    assert text.count("is within noise in both settings") == len(cp.CONTROLS)
    assert "helps" not in text and "hurts" not in text  # no direction claimed


def test_effects_within_the_band_and_without_a_spread_claim_no_direction():
    loose = cp.control_effects(_runs(True, False), LOOSE, n_boot=300)
    assert (loose["verdict"] == "within noise").all()
    assert "only where its structure exists" not in _sentences(loose)
    unjudged = cp.control_effects(_runs(True, False), {SET: None}, n_boot=300)
    assert (unjudged["verdict"] == "not judged").all()
    text = _sentences(unjudged)
    assert "is not judged in either setting" in text and "no direction is claimed" in text
    assert "only where" not in text


def test_a_mechanism_helping_only_without_its_structure_is_the_opposite():
    c = cp.CONTROLS[0]
    helps = noise.verdict(0.2, (0.1, 0.3), TIGHT[SET])
    nothing = noise.verdict(0.0, (-0.1, 0.1), TIGHT[SET])
    hurts = noise.verdict(-0.2, (-0.3, -0.1), TIGHT[SET])
    assert "the opposite of relying on" in cp.control_sentence(c, nothing, helps)
    s = cp.control_sentence(c, helps, hurts)
    assert "helps where its structure" in s and "hurts where it is removed" in s
    assert "these runs show no gain" in cp.control_sentence(c, hurts, nothing).lower()


def test_licensed_data_are_told_the_controls_need_the_phantom():
    runs = Runs(results={}, datasets=("casme2",), profile="quick")
    effects = cp.control_effects(runs, {"casme2": None})
    assert effects.empty and cp.shown_effects(effects).empty
    assert "the controls need the phantom" in cp.describe_controls(effects, ["casme2"])
    assert cp.mechanism_statistics(runs, spreads={}).empty and cp.broken_model_checks(runs, spreads={}) == {}
    fig = cp.controls_plot(effects)
    assert fig is not None


def test_the_plot_draws_every_comparison():
    fig = cp.controls_plot(cp.control_effects(_runs(True, False), TIGHT, n_boot=100))
    assert len(fig.axes) == 1 and len(fig.axes[0].get_yticklabels()) == 2 * len(cp.CONTROLS)


# ------------------------------------------------------------------ ground-truth statistics, broken copies


def _truth_and_arrays():
    from test_controls import _arrays, _truth

    truth, index, valid, labels, rng = _truth(n_clips=160)
    return truth, _arrays(truth, index, valid, labels, rng), _arrays(truth, index, valid, labels, rng, attend=False)


def test_statistics_with_and_without_the_structure():
    truth, attend, flat = _truth_and_arrays()
    mk = lambda arr: SimpleNamespace(arrays=lambda: arr)  # noqa: E731
    results = {("table6/pta", SET): mk(attend), ("table6/pta", SET + "-offsite"): mk(flat)}
    runs = Runs(results=results, datasets=(SET,), profile="smoke")
    tight = {SET: {k: noise.spread_of_values([0.0, 0.001, -0.001]) for k in controls.CHECK_NAMES}}
    stats = cp.mechanism_statistics(runs, tight, n_boot=200, truths=lambda r: truth)
    got = stats.set_index("structure")["verdict"]
    assert list(stats["_control"]) == ["pta", "pta"]
    assert got[cp.EXISTS] == "holds" and got[cp.REMOVED] != "holds"
    text = cp.describe_statistics(stats)
    assert "holds where the structure exists" in text and "where it is removed" in text


def test_a_check_that_passes_a_broken_copy_is_called_a_defect():
    good = noise.verdict(0.3, (0.2, 0.4), TIGHT[SET])
    rows = [controls.ControlRow("pta", good, noise.verdict(0.0, (-0.1, 0.1), TIGHT[SET])),
            controls.ControlRow("gda_active", good, good)]
    text = cp.describe_broken({SET: rows})
    assert "1 of the 2 judged checks caught the broken copy" in text
    assert "**Defect**" in text and controls.CHECK_NAMES["gda_active"] in text
    ok = cp.describe_broken({SET: rows[:1]})
    assert "Defect" not in ok and "1 of them passes the model" in ok
    none = cp.describe_broken({SET: [controls.ControlRow("pta", good, noise.verdict(0.3, (0.2, 0.4), None))]})
    assert "could be judged" in none and "Defect" not in none
