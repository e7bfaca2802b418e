"""Phantom control sets (issue 22): independent AU labels (for GDA) and motion moved off the
Table I landmarks (for PTA); the plain phantoms stay exactly as they were."""
from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from microau.aus import AU_LANDMARKS, DATASET_AUS
from microau.data import phantom as ph
from microau.data import registry
from microau.data.phantom import motion
from microau.mechanisms import MOVING_THRESHOLD, truth_moving_tokens

# the digest every default phantom (and every run key built on it) was made with before the controls
DEFAULT_DIGEST_V2 = "72c9837bf2ac3fa8"


def test_default_settings_keep_their_digest_and_json():
    st = ph.PhantomSettings()
    assert st.digest() == DEFAULT_DIGEST_V2
    assert "label_structure" not in st.to_json() and "motion_anchor" not in st.to_json()
    indep, offsite = (registry.phantom_settings(d) for d in ("phantom-casme2-indep", "phantom-casme2-offsite"))
    assert indep.to_json()["label_structure"] == "independent"
    assert offsite.to_json()["motion_anchor"] == "offsite"
    assert len({st.digest(), indep.digest(), offsite.digest()}) == 3
    with pytest.raises(ValueError, match="motion_anchor"):
        ph.PhantomSettings(motion_anchor="elsewhere")


def test_registry_knows_the_controls(monkeypatch, tmp_path):
    for base in ("casme2", "samm"):
        for control in ("indep", "offsite"):
            name = f"phantom-{base}-{control}"
            assert registry.check(name) == name and name in registry.DATASETS
            assert registry.is_phantom(name) and registry.source_of(name) == "phantom"
            assert registry.base_dataset(name) == base and registry.control_of(name) == control
        assert registry.control_of(f"phantom-{base}") is None and registry.control_of(base) is None
        assert registry.base_dataset(f"phantom-{base}") == base
    assert not set(registry.CONTROL_PHANTOMS) & set(registry.DEFAULT_DATASETS)
    monkeypatch.setenv("MICROAU_CACHE", str(tmp_path))
    assert ph.default_phantom_root("samm", 0, None, "offsite") == tmp_path / "phantom" / "samm-offsite-seed0-all"
    with pytest.raises(ValueError, match="not a phantom"):
        registry.phantom_settings("casme2")


# ----------------------------------------------------------------------------- independent labels
def _table(plans, aus):
    return np.array([[a in c.selected_aus for a in aus] for sub in plans for c in sub], int)


@pytest.mark.parametrize("like", ["casme2", "samm"])
def test_independent_labels_keep_each_au_count_and_lose_co_occurrence(like):
    aus = list(DATASET_AUS[like])
    base = ph.plan_labels(like, 0)
    indep = ph.plan_labels(like, 0, registry.phantom_settings(f"phantom-{like}-indep"))
    tb, ti = _table(base, aus), _table(indep, aus)
    assert tb.shape == ti.shape
    assert ti.sum(0).tolist() == tb.sum(0).tolist()  # the same marginals, exactly
    clips = [c for sub in indep for c in sub]
    assert Counter(c.emotion for c in clips) == Counter(c.emotion for sub in base for c in sub)
    assert [len(s) for s in indep] == [len(s) for s in base]
    assert all(c.aus for c in clips)  # a clip left without a selected AU codes another one
    n = len(ti)
    expected = np.outer(ti.sum(0), ti.sum(0)) / n
    off = ~np.eye(len(aus), dtype=bool)
    z_indep = np.abs(ti.T @ ti - expected)[off] / np.sqrt(expected[off] + 1)
    z_base = np.abs(tb.T @ tb - expected)[off] / np.sqrt(expected[off] + 1)
    assert z_indep.max() < 4  # chance level for each pair
    if like == "casme2":  # AU1+AU2 (surprise), AU4+AU7 (disgust): far from chance in the real sheet
        assert z_base.max() > 6


# ----------------------------------------------------------------------------- motion off site
@pytest.fixture(scope="module")
def subjects():
    st = ph.PhantomSettings()
    return [ph.make_subject(like, 0, i, st) for like in ("casme2", "samm") for i in range(3)]


def _table1(like):
    return sorted({j for a in DATASET_AUS[like] for j in AU_LANDMARKS[a]})


@pytest.mark.parametrize("like", ["casme2", "samm"])
def test_offsite_centres_keep_away_from_every_table1_landmark(subjects, like):
    tab = _table1(like)
    for subj in subjects:
        ff = motion.FaceFrame(subj.landmarks)
        for au in DATASET_AUS[like]:
            dist = {}
            for anchor in ("table1", "offsite"):
                centres = [c for c, *_ in ph.au_bumps(au, subj.landmarks, None, anchor)]
                dist[anchor] = min(np.hypot(*(ff.lm[tab] - c).T).min() for c in centres) / ff.iod
            assert dist["offsite"] >= ph.OFFSITE_MIN_IOD, (subj.sid, au, dist)
            assert dist["table1"] < ph.OFFSITE_MIN_IOD / 2, (subj.sid, au, dist)


def _magnitude(au, lm, anchor, shape=(480, 640)):
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    dx, dy = ph.displacement(xs, ys, ph.au_bumps(au, lm, None, anchor), 1.0)
    return np.hypot(dx, dy), dx, dy


def test_offsite_motion_is_still_there_but_not_at_the_landmarks(subjects):
    """At every Table I landmark of the set an AU moves less than the mechanisms' 'moving'
    threshold; on the plain phantom its own landmarks are in its moving area. The AUs stay
    distinct from each other (their displacement fields are far from parallel)."""
    tab = _table1("casme2")
    aus = DATASET_AUS["casme2"]
    for subj in subjects[::2]:
        lm = subj.landmarks
        px = np.rint(lm).astype(int)
        fields = {}
        for au in aus:
            for anchor in ("table1", "offsite"):
                mag, dx, dy = _magnitude(au, lm, anchor)
                at = mag[px[:, 1], px[:, 0]] / mag.max()
                if anchor == "offsite":
                    assert at[tab].max() < MOVING_THRESHOLD, (subj.sid, au, at[tab].max())
                    np.testing.assert_allclose(mag.max(), _magnitude(au, lm, "table1")[0].max(), rtol=0.05)
                    fields[au] = np.concatenate([dx.ravel(), dy.ravel()])
                else:
                    assert at[list(AU_LANDMARKS[au])].max() > 0.45, (subj.sid, au)
        for i, a in enumerate(aus):
            for b in aus[i + 1:]:
                cos = fields[a] @ fields[b] / np.linalg.norm(fields[a]) / np.linalg.norm(fields[b])
                assert cos < 0.9, (a, b, cos)


def test_every_bump_has_an_offsite_region():
    for au, bumps in motion.AU_BUMPS.items():
        for idx, *_ in bumps:
            assert motion.anchor_region(idx) in motion.OFFSITE_SHIFT_IOD, (au, idx)


def test_ground_truth_follows_the_anchor_of_each_clip(subjects):
    """The mechanism checks place each clip's motion as its phantom did (truth 'motion_anchor')."""
    lm = subjects[0].landmarks.astype(np.float64)
    lm = (lm - lm.min(0)) / (lm.max(0) - lm.min(0)) * 150 + 37  # the face inside a 224 crop
    rec = {"subject": "sub01", "clip": "c", "aus": [12], "sides": {}}
    plain = truth_moving_tokens([rec], ["sub01/c"], lm[None], (12,), 224, (14, 14))
    moved = truth_moving_tokens([{**rec, "motion_anchor": "offsite"}], ["sub01/c"], lm[None], (12,), 224, (14, 14))
    corners = {int(y // 16) * 14 + int(x // 16) for x, y in lm[[48, 54]]}  # Eq. 1 on a 14 x 14 grid
    assert all(plain[0, 0, t] for t in corners) and not any(moved[0, 0, t] for t in corners)
    assert moved.sum() > 0.5 * plain.sum() and (plain & moved).sum() < 0.5 * plain.sum()


# ----------------------------------------------------------------------------- written sets
@pytest.mark.parametrize("name", ["phantom-samm-offsite", "phantom-casme2-indep"])
def test_control_sets_are_written_in_the_same_layout(monkeypatch, tmp_path, name):
    monkeypatch.setenv("MICROAU_CACHE", str(tmp_path))
    root = registry.root_for_name(name, n_subjects=1)
    assert root.parent == tmp_path / "phantom" and registry.control_of(name) in root.name
    samples = registry.load_samples(name, root)
    truth = {(t["subject"], t["clip"]): t for t in ph.read_truth(root)}
    assert samples and all(s.dataset == name for s in samples)
    for s in samples:
        assert set(truth[(s.subject, s.clip)]["aus"]) == set(s.aus)
        assert truth[(s.subject, s.clip)].get("motion_anchor", "table1") == (
            "offsite" if name.endswith("offsite") else "table1")
    record = json.loads((root / "phantom_settings.json").read_text())
    assert record["settings_digest"] == registry.phantom_settings(name).digest() != DEFAULT_DIGEST_V2


def test_cli_writes_a_control_set(tmp_path, capsys):
    from microau.cli import main

    out = tmp_path / "cli"
    assert main(["phantom", "--like", "samm", "--control", "indep", "--out", str(out), "--subjects", "1",
                 "--no-progress"]) == 0
    assert "phantom-samm-indep" in capsys.readouterr().out
    assert ph.is_complete(out, "samm", 0, 1, registry.phantom_settings("phantom-samm-indep"))
    assert not ph.is_complete(out, "samm", 0, 1)
