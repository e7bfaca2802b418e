"""The phantom: label statistics, on-disk layouts, loader round trip, determinism."""
from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from microau.data import phantom as ph
from microau.data.registry import load_samples

STATS = json.loads(ph.STATS_PATH.read_text())


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def casme2_2(tmp_path_factory) -> Path:
    return ph.write_phantom("casme2", tmp_path_factory.mktemp("c2") / "set", seed=0, n_subjects=2,
                            progress=False)


@pytest.fixture(scope="module")
def casme2_3(tmp_path_factory) -> Path:
    return ph.write_phantom("casme2", tmp_path_factory.mktemp("c3") / "set", seed=0, n_subjects=3,
                            progress=False)


@pytest.fixture(scope="module")
def samm_2(tmp_path_factory) -> Path:
    return ph.write_phantom("samm", tmp_path_factory.mktemp("s2") / "set", seed=0, n_subjects=2,
                            progress=False)


# ----------------------------------------------------------------------------- labels
@pytest.mark.parametrize("like", ["casme2", "samm"])
def test_joint_table_reproduces_the_real_margins(like):
    s = STATS[like]
    for table in (ph.JOINT_TABLES[like], ph.reconstruct_joint_table(like)):
        assert {e: sum(r.values()) for e, r in table.items()} == {
            e: v["n"] for e, v in s["per_emotion"].items()}
        combos = Counter()
        for row in table.values():
            combos.update(row)
        assert dict(combos) == {c: n for c, n in s["selected_au_combinations"].items() if n}
        for emo, row in table.items():
            for au in s["selected_aus"]:
                n = sum(k for c, k in row.items() if au in c.split("+"))
                assert n == s["per_emotion"][emo]["au_counts"][au], (emo, au)


def _cooc(plans, aus):
    m = np.zeros((len(aus), len(aus)), int)
    for p in (c for sub in plans for c in sub):
        v = np.array([a in p.selected_aus for a in aus], int)
        m += np.outer(v, v)
    return m


@pytest.mark.parametrize("like", ["casme2", "samm"])
def test_plan_follows_the_label_statistics(like):
    s = STATS[like]
    plans = ph.plan_labels(like, seed=0)
    clips = [c for sub in plans for c in sub]
    assert len(plans) == s["n_subjects"] and len(clips) == s["n_clips"]
    assert sorted((len(p) for p in plans), reverse=True) == s["clips_per_subject_sorted"]
    assert Counter(c.emotion for c in clips) == {e: v["n"] for e, v in s["per_emotion"].items()}
    aus = [int(a[2:]) for a in s["selected_aus"]]
    assert _cooc(plans, aus).tolist() == s["cooccurrence_selected"]["matrix"]
    # unselected AUs 6/9/10 appear at roughly their real rates
    counts = Counter(a for c in clips for a in c.nuisance_aus)
    for au in ph.NUISANCE_AUS:
        real = s["au_counts_all"][f"AU{au}"]
        assert abs(counts[au] - real) <= max(6, 0.6 * real), (au, counts[au], real)
    # every clip codes at least one AU; ids are unique; apex after onset
    assert all(c.aus for c in clips)
    assert len({(c.subject, c.clip) for c in clips}) == len(clips)
    gaps = [c.apex_frame - c.onset_frame for c in clips]
    assert min(gaps) > 0 and abs(np.median(gaps) - s["apex_minus_onset_frames"]["median"]) < 6
    # another seed: same statistics, another assignment
    other = [c for sub in ph.plan_labels(like, seed=1) for c in sub]
    assert Counter(c.selected_aus for c in other) == Counter(c.selected_aus for c in clips)
    assert [c.selected_aus for c in other] != [c.selected_aus for c in clips]


def test_sampled_labels_stay_close_to_the_statistics():
    s = STATS["casme2"]
    clips = [c for sub in ph.plan_labels("casme2", 3, ph.PhantomSettings(label_mode="sample")) for c in sub]
    n = len(clips)
    for au in s["selected_aus"]:
        p = s["au_counts_all"][au] / n
        got = sum(int(au[2:]) in c.selected_aus for c in clips)
        assert abs(got - p * n) <= 4 * np.sqrt(n * p * (1 - p)) + 1, (au, got, p * n)


# ----------------------------------------------------------------------------- layouts
def test_casme2_layout_sheet_and_loader(casme2_2):
    df = pd.read_excel(casme2_2 / ph.CASME2_SHEET)
    assert list(df.columns) == list(ph.CASME2_COLUMNS)
    plans = ph.plan_labels("casme2", 0)[:2]
    assert len(df) == sum(len(p) for p in plans)
    assert set(df["Subject"]) == {1, 2}
    assert df["Filename"].str.match(r"^EP\d\d_\d\df?$").all()
    assert set(df["Estimated Emotion"]) <= set(STATS["casme2"]["per_emotion"])
    for _, r in df.iterrows():
        clip_dir = casme2_2 / ph.CASME2_FRAMES / f"sub{r.Subject:02d}" / r.Filename
        assert sorted(p.name for p in clip_dir.iterdir()) == sorted(
            {f"img{r.OnsetFrame}.jpg", f"img{r.ApexFrame}.jpg"})
    img = cv2.imread(str(next((casme2_2 / ph.CASME2_FRAMES).rglob("*.jpg"))), cv2.IMREAD_UNCHANGED)
    assert img.shape == (480, 640, 3)
    # the project's loader reads it as it reads CASME II
    samples = load_samples("phantom-casme2", casme2_2)
    assert len(samples) == len(df)
    truth = {(t["subject"], t["clip"]): t for t in ph.read_truth(casme2_2)}
    for smp in samples:
        t = truth[(smp.subject, smp.clip)]
        assert smp.dataset == "phantom-casme2"
        assert set(t["aus"]) == set(smp.aus), (smp.id, smp.au_string)
        assert smp.onset_path.is_file() and smp.apex_path.is_file()
        assert smp.emotion == t["emotion"]


def test_samm_layout_sheet_and_loader(samm_2):
    raw = pd.read_excel(samm_2 / ph.SAMM_SHEET, header=None, dtype=object)
    header_row = next(i for i in range(len(raw)) if str(raw.iloc[i, 0]).strip() == "Subject")
    assert header_row >= 4
    assert any(str(v).strip() == "AU Help" for v in raw.iloc[:header_row, 0])
    df = pd.read_excel(samm_2 / ph.SAMM_SHEET, header=header_row, dtype={"Subject": str})
    assert list(df.columns) == list(ph.SAMM_COLUMNS)
    assert set(df["Subject"]) == set(ph.SAMM_SUBJECTS[:2])
    for _, r in df.iterrows():
        assert r.Filename.startswith(f"{r.Subject}_")
        for f in (r["Onset Frame"], r["Apex Frame"]):
            p = samm_2 / ph.SAMM_FRAMES / r.Subject / r.Filename / f"{r.Subject}_{int(f):05d}.jpg"
            assert p.is_file(), p
        assert r["Duration"] == r["Offset Frame"] - r["Onset Frame"] + 1
    img = cv2.imread(str(next((samm_2 / ph.SAMM_FRAMES).rglob("*.jpg"))), cv2.IMREAD_UNCHANGED)
    assert img.ndim == 2  # SAMM-like frames are grey
    samples = load_samples("phantom-samm", samm_2)
    assert len(samples) == len(df)
    truth = {(t["subject"], t["clip"]): t for t in ph.read_truth(samm_2)}
    for smp in samples:
        assert set(truth[(smp.subject, smp.clip)]["aus"]) == set(smp.aus), smp.au_string


# ----------------------------------------------------------------------------- determinism
def _frames(root: Path, subjects) -> dict[str, bytes]:
    out = {}
    for p in sorted((root / ph.CASME2_FRAMES).rglob("*.jpg")):
        if p.parts[-3] in subjects:
            out[str(p.relative_to(root))] = p.read_bytes()
    return out


def test_subset_equals_the_same_subjects_of_a_larger_set(casme2_2, casme2_3):
    a, b = _frames(casme2_2, {"sub01", "sub02"}), _frames(casme2_3, {"sub01", "sub02"})
    assert a and a == b
    assert len(_frames(casme2_3, {"sub03"})) > 0
    ta, tb = ph.read_truth(casme2_2), ph.read_truth(casme2_3)
    assert ta == tb[: len(ta)]


def test_same_seed_same_bytes_and_rerun_is_instant(casme2_2, tmp_path):
    again = ph.write_phantom("casme2", tmp_path / "again", seed=0, n_subjects=2, progress=False)
    assert _frames(again, {"sub01", "sub02"}) == _frames(casme2_2, {"sub01", "sub02"})
    assert (again / ph.CASME2_SHEET).is_file()
    for name in (ph.CASME2_SHEET, ph.TRUTH_FILE, ph.FILE_LIST, ph.MARKER):  # every byte, sheet included
        assert (again / name).read_bytes() == (casme2_2 / name).read_bytes(), name
    mtimes = {p: p.stat().st_mtime_ns for p in again.rglob("*") if p.is_file()}
    t0 = time.perf_counter()
    assert ph.write_phantom("casme2", again, seed=0, n_subjects=2, progress=False) == again
    assert time.perf_counter() - t0 < 1.0
    assert {p: p.stat().st_mtime_ns for p in again.rglob("*") if p.is_file()} == mtimes
    # other settings in the same folder: rewritten, not reused
    st = ph.PhantomSettings(noise_sd=3.0)
    ph.write_phantom("casme2", again, seed=0, n_subjects=1, settings=st, progress=False)
    assert ph.is_complete(again, "casme2", 0, 1, st)
    assert not ph.is_complete(again, "casme2", 0, 2)
    assert not (again / ph.CASME2_FRAMES / "sub02").exists()
    assert not list(tmp_path.glob(".*partial*"))


def test_other_seed_other_faces(casme2_2, tmp_path):
    other = ph.write_phantom("casme2", tmp_path / "s1", seed=1, n_subjects=1, progress=False)
    assert set(_frames(other, {"sub01"}).values()).isdisjoint(_frames(casme2_2, {"sub01"}).values())


def test_truth_records_motion_of_the_coded_aus(casme2_2):
    for t in ph.read_truth(casme2_2):
        assert set(map(int, t["amplitude_px"])) == set(t["aus"])
        assert all(0 < v <= ph.PhantomSettings().max_amplitude_px for v in t["amplitude_px"].values())
        assert np.asarray(t["landmarks_onset"]).shape == (68, 2)


def test_apex_differs_from_onset_where_the_au_acts(casme2_2):
    """The AU field moves the face near its landmarks, not elsewhere (beyond nuisance)."""
    st = ph.PhantomSettings(head_shift_sd_px=0, head_rotation_sd_deg=0, head_scale_sd=0,
                            flicker_gain_sd=0, flicker_gradient_sd=0, noise_sd=0, weak_prob=0)
    subj = ph.make_subject("casme2", 0, 0, st)
    plan = ph.plan_labels("casme2", 0, st)[0][0]
    plan = ph.ClipPlan(**{**plan.__dict__, "selected_aus": (12,), "nuisance_aus": (), "sides": {}})
    clip = ph.render_clip(subj, plan, 0, st)
    diff = np.abs(clip.apex.astype(float) - clip.onset.astype(float)).mean(2)
    lm = np.asarray(clip.truth["landmarks_onset"])
    iod = clip.truth["iod_px"]

    def around(idx):
        x, y = lm[idx].mean(0).astype(int)
        r = int(0.15 * iod)
        return diff[y - r:y + r, x - r:x + r].mean()

    assert around([48]) > 5 * around([19, 20, 21]) and around([54]) > 5 * around([36, 37])


def test_cli_writes_a_phantom(tmp_path, capsys):
    from microau.cli import main

    out = tmp_path / "cli"
    assert main(["phantom", "--like", "samm", "--out", str(out), "--subjects", "1", "--no-progress"]) == 0
    assert (out / ph.SAMM_SHEET).is_file() and ph.is_complete(out, "samm", 0, 1)
    assert "phantom-samm" in capsys.readouterr().out


def test_default_root_uses_the_cache_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("MICROAU_CACHE", str(tmp_path))
    assert ph.default_phantom_root("samm", 2, 3) == tmp_path / "phantom" / "samm-seed2-3subj"
    assert ph.default_phantom_root("casme2") == tmp_path / "phantom" / "casme2-seed0-all"
    with pytest.raises(ValueError):
        ph.default_phantom_root("mmew")
    # data set names are the registry's business: it gives the base name
    with pytest.raises(ValueError, match="base_dataset"):
        ph.default_phantom_root("phantom-samm")
