"""CASME II / SAMM loaders, the shared API and `microau data summary`, on generated fixtures
laid out like the distributed datasets (tests/fixtures_sheets.py)."""
from __future__ import annotations

import logging
import re
import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixtures_sheets import (  # noqa: E402
    CASME2_ROWS,
    SAMM_ROWS,
    Row,
    write_casme2,
    write_casme2_frames,
    write_casme2_sheet,
    write_samm,
    write_samm_frames,
    write_samm_sheet,
)

from microau.cli import main  # noqa: E402
from microau.data import casme2, samm  # noqa: E402
from microau.data.registry import load_samples  # noqa: E402
from microau.data.summary import format_summary, selected_au_counts, summarize  # noqa: E402

# Expected values, written by hand from the fixture rows (sorted by subject, clip).
CASME2_EXPECTED = [
    # id, onset, apex, aus, emotion, emotion3, number of notes
    ("sub01/EP02_01f", 46, 59, {4, 7, 10}, "disgust", "negative", 0),
    ("sub01/EP03_02", 10, 20, {12}, "happiness", "positive", 0),
    ("sub02/EP01_11f", 100, 120, {1, 2, 25}, "surprise", "surprise", 1),  # apex '/' -> midpoint
    ("sub02/EP09_04", 5, 9, {12}, "others", None, 0),
    ("sub03/EP01_05", 7, 8, set(), "fear", "negative", 0),
    ("sub03/EP15_01", 30, 33, {6, 12, 15}, "repression", "negative", 1),  # '(R6 or R12)'
]
SAMM_EXPECTED = [
    ("006/006_1_2", 5562, 5588, {4, 7}, "anger", "negative", 0),
    ("006/006_1_5", 1000, 1025, {12}, "happiness", "positive", 1),  # apex -1 -> midpoint
    ("007/007_6_1", 200, 215, {1, 2}, "surprise", "surprise", 2),  # A1B, A2C
    ("011/011_2_3", 3000, 3010, {7}, "other", None, 1),  # ref(43)
    ("011/011_3_1", 50, 70, {18, 39}, "contempt", "negative", 2),  # empty apex; T18
]


def check_expected(samples, expected, dataset):
    assert [s.id for s in samples] == [e[0] for e in expected]
    for s, (sid, onset, apex, aus, emotion, emo3, n_notes) in zip(samples, expected):
        assert s.dataset == dataset
        assert (s.onset_frame, s.apex_frame) == (onset, apex), sid
        assert s.aus == frozenset(aus), sid
        assert s.emotion == emotion
        assert s.emotion3 == emo3
        assert len(s.notes) == n_notes, (sid, s.notes)
        assert s.onset_path.is_file() and s.apex_path.is_file()


# ----------------------------------------------------------------------------- CASME II
@pytest.fixture
def casme2_root(tmp_path):
    return write_casme2(tmp_path / "CASME2", version="2019", layout="raw")


def test_casme2_raw_2019(casme2_root):
    samples = load_samples("casme2", casme2_root)
    check_expected(samples, CASME2_EXPECTED, "casme2")
    first = samples[0]
    assert first.onset_path == casme2_root / "CASME2_RAW_selected/sub01/EP02_01f/img46.jpg"
    assert first.apex_path == casme2_root / "CASME2_RAW_selected/sub01/EP02_01f/img59.jpg"
    assert first.au_string == "4+7+L10"
    assert samples[3].au_string == "12"  # stored by Excel as the number 12.0


def test_casme2_2014_sheet_cropped(tmp_path):
    root = write_casme2(tmp_path / "c2", version="2014", layout="cropped")
    samples = load_samples("casme2", root)
    check_expected(samples, CASME2_EXPECTED, "casme2")
    assert samples[0].onset_path == root / "Cropped/sub01/EP02_01f/reg_img46.jpg"


def test_casme2_auto_prefers_raw_and_explicit_layout(tmp_path):
    root = write_casme2(tmp_path / "c2", layout="cropped")
    write_casme2_frames(root, layout="raw")
    auto = load_samples("casme2", root)
    assert all("CASME2_RAW_selected" in s.onset_path.parts for s in auto)
    cropped = load_samples("casme2", root, layout="cropped")
    assert all("Cropped" in s.apex_path.parts for s in cropped)
    assert [s.aus for s in auto] == [s.aus for s in cropped]


def test_casme2_newest_sheet_is_used(tmp_path, caplog):
    root = tmp_path / "c2"
    write_casme2(root, version="2019")
    write_casme2_sheet(root, CASME2_ROWS[:2], version="2014")  # older sheet, 2 rows
    with caplog.at_level(logging.INFO):
        samples = load_samples("casme2", root)
    assert len(samples) == len(CASME2_ROWS)
    chosen = [r.getMessage() for r in caplog.records if "newest" in r.getMessage()]
    assert chosen and "CASME2-coding-20190701.xlsx" in chosen[0]
    assert "CASME2-coding-20140508.xlsx" in chosen[0]


def test_casme2_apex_fallback_is_noted_not_dropped(casme2_root, caplog):
    with caplog.at_level(logging.WARNING):
        samples = load_samples("casme2", casme2_root)
    s = {x.id: x for x in samples}["sub02/EP01_11f"]
    assert s.apex_frame == (100 + 140) // 2
    assert len(s.notes) == 1 and "'/'" in s.notes[0] and "midpoint" in s.notes[0]
    assert "= 120" in s.notes[0]
    assert s.apex_path.name == "img120.jpg"
    assert any("EP01_11f" in r.getMessage() and "midpoint" in r.getMessage()
               for r in caplog.records)


@pytest.mark.parametrize("cell,expected", [
    (1, "sub01"), (1.0, "sub01"), ("1", "sub01"), ("01", "sub01"), ("sub01", "sub01"),
    ("Sub01", "sub01"), (12, "sub12"), ("sub26", "sub26"),
])
def test_casme2_subject_formatting(cell, expected):
    assert casme2.subject_id(cell) == expected


@pytest.mark.parametrize("cell,expected", [
    (6, "006"), (6.0, "006"), ("6", "006"), ("006", "006"), (32, "032"), ("100", "100"),
])
def test_samm_subject_formatting(cell, expected):
    assert samm.subject_id(cell) == expected


@pytest.mark.parametrize("bad", ["", "abc", "sub", None, "s01x"])
def test_bad_subjects_raise(bad):
    with pytest.raises(ValueError):
        casme2.subject_id(bad)
    with pytest.raises(ValueError):
        samm.subject_id(bad)


def test_missing_root(tmp_path):
    missing = tmp_path / "nope"
    for dataset in ("casme2", "samm"):
        with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
            load_samples(dataset, missing)


def test_casme2_missing_sheet(tmp_path):
    root = tmp_path / "c2"
    write_casme2_frames(root)
    with pytest.raises(FileNotFoundError) as err:
        load_samples("casme2", root)
    assert "CASME2-coding-*.xlsx" in str(err.value) and str(root) in str(err.value)


def test_casme2_missing_frame_folder(tmp_path):
    root = tmp_path / "c2"
    write_casme2_sheet(root)
    with pytest.raises(FileNotFoundError) as err:
        load_samples("casme2", root)
    assert str(root / "CASME2_RAW_selected") in str(err.value)
    assert str(root / "Cropped") in str(err.value)
    with pytest.raises(FileNotFoundError, match="Cropped"):
        load_samples("casme2", root, layout="cropped")


def test_casme2_missing_frame_names_the_path(casme2_root):
    gone = casme2_root / "CASME2_RAW_selected/sub03/EP15_01/img33.jpg"
    gone.unlink()
    with pytest.raises(FileNotFoundError) as err:
        load_samples("casme2", casme2_root)
    msg = str(err.value)
    assert str(gone) in msg and "1 onset/apex frame(s) missing" in msg
    assert "img<frame>" in msg or "img46.jpg" in msg  # says which layout was expected


def test_bad_onset_and_unplaceable_apex_raise_naming_the_row(tmp_path):
    root = tmp_path / "c2"
    write_casme2(root, rows=(Row(1, "EP02_01f", "x", 5, 9, "4", "disgust"),))
    with pytest.raises(ValueError, match=r"row 2 .*onset"):
        load_samples("casme2", root)
    root2 = tmp_path / "c2b"
    write_casme2(root2, rows=(Row(1, "EP02_01f", 3, "/", "/", "4", "disgust"),))
    with pytest.raises(ValueError, match=r"row 2 .*apex"):
        load_samples("casme2", root2)


def test_sheet_missing_column(tmp_path):
    root = tmp_path / "c2"
    write_casme2(root)
    from openpyxl import load_workbook

    path = root / "CASME2-coding-20190701.xlsx"
    wb = load_workbook(path)
    wb.active["G1"] = "AUs"  # was 'Action Units'
    wb.save(path)
    with pytest.raises(ValueError, match="actionunits"):
        load_samples("casme2", root)


# ----------------------------------------------------------------------------- SAMM
@pytest.fixture
def samm_root(tmp_path):
    return write_samm(tmp_path / "SAMM_root", nested=True)


def test_samm_nested(samm_root, caplog):
    with caplog.at_level(logging.WARNING):
        samples = load_samples("samm", samm_root)
    check_expected(samples, SAMM_EXPECTED, "samm")
    assert samples[0].onset_path == samm_root / "SAMM/006/006_1_2/006_05562.jpg"
    assert samples[0].apex_path == samm_root / "SAMM/006/006_1_2/006_05588.jpg"
    assert samples[4].apex_path.name == "011_00070.jpg"
    # the footnote row below the table has no Filename: skipped, but said so
    assert any("footnote" in r.getMessage() and "skipped" in r.getMessage()
               for r in caplog.records)


def test_samm_flat(tmp_path):
    root = tmp_path / "flat"
    write_samm_sheet(root)
    write_samm_frames(root, nested=False)
    samples = load_samples("samm", root)
    check_expected(samples, SAMM_EXPECTED, "samm")
    assert samples[0].onset_path == root / "006/006_1_2/006_05562.jpg"


def test_samm_apex_fallbacks(samm_root):
    by_id = {s.id: s for s in load_samples("samm", samm_root)}
    minus_one = by_id["006/006_1_5"]
    assert minus_one.apex_frame == (1000 + 1050) // 2
    assert "'-1'" in minus_one.notes[0] and "midpoint" in minus_one.notes[0]
    empty = by_id["011/011_3_1"]
    assert empty.apex_frame == 70
    assert any("apex frame is empty" in n and "midpoint" in n for n in empty.notes)
    assert any("'T'" in n for n in empty.notes)


def test_samm_missing_sheet_and_frame(tmp_path):
    root = tmp_path / "s"
    write_samm_frames(root)
    with pytest.raises(FileNotFoundError) as err:
        load_samples("samm", root)
    assert str(root / "SAMM_Micro_FACS_Codes_v2.xlsx") in str(err.value)

    write_samm_sheet(root)
    gone = root / "SAMM/007/007_6_1/007_00200.jpg"
    gone.unlink()
    with pytest.raises(FileNotFoundError) as err:
        load_samples("samm", root)
    assert str(gone) in str(err.value)


def test_samm_header_found_below_preamble(tmp_path):
    from microau.data.sheets import read_coding_table

    path = write_samm_sheet(tmp_path / "s")
    rows = read_coding_table(path, samm.REQUIRED, "test")
    # preamble (7 lines) + header on row 8, data from row 9; the footnote row is kept here and
    # skipped (with a warning) by the reader because it has no Filename
    assert rows[0].excel_row == 9
    assert [r.get("filename") for r in rows[:len(SAMM_ROWS)]] == [r.filename for r in SAMM_ROWS]
    assert rows[0].get("inducementcode") == 1


# ----------------------------------------------------------------------------- shared API
def test_phantom_names_use_the_same_readers(casme2_root, samm_root):
    real = load_samples("casme2", casme2_root)
    phantom = load_samples("phantom-casme2", casme2_root)
    assert [s.dataset for s in phantom] == ["phantom-casme2"] * len(real)
    assert [(s.id, s.aus, s.apex_frame) for s in phantom] == \
        [(s.id, s.aus, s.apex_frame) for s in real]
    assert {s.dataset for s in load_samples("phantom-samm", samm_root)} == {"phantom-samm"}


def test_unknown_dataset_or_layout(casme2_root):
    with pytest.raises(ValueError, match="unknown dataset"):
        load_samples("casme9", casme2_root)
    with pytest.raises(ValueError, match="layout"):
        load_samples("casme2", casme2_root, layout="nested")


def test_summarize_casme2(casme2_root):
    summary = summarize(load_samples("casme2", casme2_root))
    assert summary.dataset == "casme2"
    assert summary.n_clips == 6 and summary.n_subjects == 3
    assert summary.clips_per_subject == {"sub01": 2, "sub02": 2, "sub03": 2}
    expected_aus = Counter()
    for e in CASME2_EXPECTED:
        expected_aus.update(e[3])
    assert summary.au_counts == dict(sorted(expected_aus.items()))
    assert summary.au_counts[12] == 3
    assert summary.emotion_counts == {e: 1 for e in
                                      ("disgust", "fear", "happiness", "others", "repression",
                                       "surprise")}
    assert list(summary.emotion3_counts.items()) == [
        ("negative", 3), ("positive", 1), ("surprise", 1), ("excluded", 1)]
    assert summary.n_with_notes == 2
    assert len(summary.notes) == 2
    assert summary.as_dict()["n_clips"] == 6
    assert "clips: 6" in format_summary(summary)


def _rule_rows():
    """20 clips; AU4 in 15, AU7 in 14, AU10 in 15, AU12 in 16, AU1 in 3 (by construction)."""
    rows, label_sets = [], []
    for i in range(20):
        aus = set()
        if i < 15:
            aus.add(4)
        if i >= 6:
            aus.add(7)
        if i >= 5:
            aus.add(10)
        if i >= 4:
            aus.add(12)
        if i < 3:
            aus.add(1)
        label_sets.append(aus)
        cell = "+".join(str(a) for a in sorted(aus)) or "none"
        rows.append(Row(i % 4 + 1, f"EP{i:02d}_01", 10, 15, 30, cell, "disgust"))
    return rows, label_sets


def test_more_than_14_rule(tmp_path):
    rows, label_sets = _rule_rows()
    root = write_casme2(tmp_path / "rule", rows=rows)
    samples = load_samples("casme2", root)
    counts = Counter(a for s in label_sets for a in s)
    assert counts == Counter({4: 15, 7: 14, 10: 15, 12: 16, 1: 3})

    sel = selected_au_counts(samples)
    assert sel.min_count == 15
    assert sel.counts == {1: 3, 4: 15, 7: 14, 10: 15, 12: 16}
    assert sel.passing == (4, 10, 12)  # exactly 15 passes, exactly 14 does not
    assert sel.paper == (1, 2, 4, 7, 12, 14, 15, 17)
    assert sel.passing_not_in_paper == (10,)
    assert sel.paper_not_passing == (1, 2, 7, 14, 15, 17)
    assert selected_au_counts(samples, min_count=14).passing == (4, 7, 10, 12)


# ----------------------------------------------------------------------------- CLI
_AU_LINE = re.compile(r"^\s+AU(\d+)\s+(\d+)\s*(\*)?\s*(P)?\s*$")


def _au_lines(text):
    out = {}
    for line in text.splitlines():
        m = _AU_LINE.match(line)
        if m:
            out[int(m.group(1))] = (int(m.group(2)), bool(m.group(3)), bool(m.group(4)))
    return out


def test_cli_data_summary(casme2_root, capsys):
    assert main(["data", "summary", "--dataset", "casme2", "--root", str(casme2_root)]) == 0
    out = capsys.readouterr().out
    assert "clips: 6" in out and "subjects: 3" in out
    au = _au_lines(out)
    assert au == {1: (1, False, True), 2: (1, False, True), 4: (1, False, True),
                  6: (1, False, False), 7: (1, False, True), 10: (1, False, False),
                  12: (3, False, True), 15: (1, False, True), 25: (1, False, False)}
    assert "more than 14" in out
    assert re.search(r"^\s+happiness\s+1$", out, re.M)
    assert re.search(r"^\s+negative\s+3$", out, re.M)
    assert "clips with notes: 2" in out and "--show-notes" in out


def test_cli_show_notes_and_rule(tmp_path, capsys):
    rows, _ = _rule_rows()
    rows.append(Row(9, "EP99_01", 10, "/", 20, "R12 or R14", "happiness", disk_apex=15))
    root = write_casme2(tmp_path / "rule", rows=rows)
    assert main(["data", "summary", "--dataset", "casme2", "--root", str(root),
                 "--show-notes"]) == 0
    out = capsys.readouterr().out
    au = _au_lines(out)
    assert au[12] == (17, True, True) and au[10] == (15, True, False) and au[7] == (14, False, True)
    assert au[14] == (1, False, True)
    assert "AUs with more than 14 clips: AU4, AU10, AU12" in out
    assert "pass the rule but not selected by the paper: AU10" in out
    assert "clips with notes: 1 (2 notes)" in out
    assert "sub09/EP99_01: apex frame '/'" in out
    assert "uncertain choice (AU12 or AU14)" in out


def test_cli_samm_and_errors(samm_root, tmp_path, capsys):
    assert main(["data", "summary", "--dataset", "samm", "--root", str(samm_root)]) == 0
    out = capsys.readouterr().out
    assert "clips: 5" in out and "subjects: 3" in out
    assert "clips with notes: 4 (6 notes)" in out
    assert main(["data", "summary", "--dataset", "samm", "--root", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "none") in err


def test_apex_outside_onset_offset_is_kept_and_noted(tmp_path):
    root = write_casme2(tmp_path / "c2", rows=(Row(1, "EP02_01f", 10, 50, 40, "4", "disgust"),))
    (s,) = load_samples("casme2", root)
    assert s.apex_frame == 50
    assert len(s.notes) == 1 and "outside onset..offset 10..40" in s.notes[0]


def test_old_import_path_delegates_to_the_registry(casme2_root):
    from microau.data import loading

    assert loading.load_samples("phantom-casme2", casme2_root) == load_samples("phantom-casme2", casme2_root)
    assert loading.read_dataset("casme2", casme2_root) == load_samples("casme2", casme2_root)


def test_cli_summary_needs_a_root_for_licensed_data(capsys):
    assert main(["data", "summary", "--dataset", "samm"]) == 2
    assert "--root is required for samm" in capsys.readouterr().err


def test_frame_numbers_read_back_from_file_names():
    raw, cropped = casme2.SPEC.layout("raw"), casme2.SPEC.layout("cropped")
    nested = samm.SPEC.layout("nested")
    assert raw.frame_of("img46.jpg", "sub01") == 46 and raw.frame_of("reg_img46.jpg", "sub01") is None
    assert cropped.frame_of("reg_img46.jpg", "sub01") == 46 and raw.frame_of("img46.png", "sub01") is None
    assert nested.frame_of("006_05562.jpg", "006") == 5562
    assert nested.frame_of("007_05562.jpg", "006") is None  # another subject's file
    for lay, sub in ((raw, "sub01"), (cropped, "sub01"), (nested, "006")):
        assert lay.frame_of(lay.path(Path("/r"), sub, "c", 123).name, sub) == 123


def test_apex_without_image_and_without_offset_uses_the_next_frames(tmp_path):
    from fixtures_sheets import write_frame

    root = write_casme2(tmp_path / "c2", rows=(Row(1, "EP02_01f", 10, 14, "/", "4", "disgust"),))
    (root / "CASME2_RAW_selected/sub01/EP02_01f/img14.jpg").unlink()
    for f in (12, 17):
        write_frame(root / f"CASME2_RAW_selected/sub01/EP02_01f/img{f}.jpg")
    (s,) = load_samples("casme2", root)
    assert s.apex_frame == 12 and "apex frame 14 has no image" in s.notes[0]
