"""Issue 25: the loaders of CAS(ME)^3 Part A, CASME, 4DME, MMEW and SMIC, end to end on phantoms
written in each set's layout (sheet columns, cell types, AU spelling, typos, frame tree), plus
the rules the registry keeps for them (names, composites, evaluated AUs)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from microau.cli import main
from microau.data import casme3, fourdme, registry
from microau.data.phantom.layouts import LAYOUTS, write_layout_phantom
from microau.data.phantom.writer import read_truth
from microau.data.reader import read_sheet
from microau.data.registry import load_samples

SETS = sorted(LAYOUTS)


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    """Each set's phantom, two subjects (written once for the module)."""
    base = tmp_path_factory.mktemp("sets")
    return {name: write_layout_phantom(name, base / name, n_subjects=2, progress=False) for name in SETS}


def _copy(root: Path, tmp_path: Path) -> Path:
    dst = tmp_path / root.name
    shutil.copytree(root, dst)
    return dst


@pytest.mark.parametrize("name", SETS)
def test_each_loader_reads_its_layout_as_the_phantom_wrote_it(roots, name):
    root = roots[name]
    samples = load_samples(f"phantom-{name}", root)
    expect = {f"{t['expect']['subject']}/{t['expect']['clip']}": t["expect"] for t in read_truth(root)}
    assert sorted(s.id for s in samples) == sorted(expect)
    assert len({s.id for s in samples}) == len(samples)  # distinct ids
    for s in samples:
        e = expect[s.id]
        assert (s.onset_frame, s.apex_frame, sorted(s.aus)) == (e["onset"], e["apex"], e["aus"]), s.id
        assert s.dataset == f"phantom-{name}" and s.onset_path.is_file() and s.apex_path.is_file()
        assert root.resolve() in s.apex_path.resolve().parents


def test_casme3_rows_text_cells_shared_videos_and_typos(roots):
    reading = read_sheet(casme3.SPEC, roots["casme3"], dataset="phantom-casme3")
    samples = reading.samples
    # several expressions of one video: distinct ids, one folder
    by_video: dict[tuple[str, str], list] = {}
    for s in samples:
        by_video.setdefault((s.subject, s.onset_path.parent.parent.name), []).append(s)
    shared = [v for v in by_video.values() if len(v) > 1]
    assert shared and all(len({s.clip for s in v}) == len(v) for v in shared)
    assert all(s.clip == f"{s.onset_path.parent.parent.name}-{s.onset_frame}" for v in shared for s in v)
    notes = [n for s in samples for n in s.notes]
    assert any("offset frame 0 read as not coded" in n for n in notes)
    assert any("lies outside onset..offset" in n and "using frame" in n for n in notes)
    assert any("is listed as damaged (exception/error_info_damaged_image_partA.txt" in n for n in notes)
    assert any("leading 'T'" in n for n in notes)  # a position prefix, noted
    assert any(code.startswith(("L", "R", "T")) for s in samples for code in s.sides)  # laterality kept
    (skipped,) = reading.skipped  # the typo row, left out and counted, never a refusal
    assert "is not a frame number" in skipped[1] and skipped[0] == reading.rows + 1


def test_casme3_exception_lists_read_both_line_forms(tmp_path):
    folder = tmp_path / "exception"
    folder.mkdir()
    (folder / "error_info_damaged_image_partA.txt").write_text(
        "spNO.3 J 498.jpg  the image cannot open\nspNO.4 j 568.jpg  the image cannot open\nnoise line\n")
    (folder / "image_with_bad_quality_partA.txt").write_text("/date/databases/casme3/RGB/spNO.138/a/color/1294.jpg\n")
    listed = casme3.damaged_frames(tmp_path)
    assert set(listed) == {("spno.3", "j", 498), ("spno.4", "j", 568), ("spno.138", "a", 1294)}
    assert "bad quality" in listed[("spno.138", "a", 1294)]
    assert casme3.subject_id("spno.12") == casme3.subject_id(12) == "spNO.12"


def test_4dme_k_marks_and_au_prefixes():
    parsed = fourdme.parse_aus("AU4+AU7+AU10(k)")
    assert parsed.aus == {4, 7} and parsed.referenced == {10}
    assert any("'AU10(k)': marked '(k)'" in n for n in parsed.notes)
    assert fourdme.parse_aus("AU12(k)").aus == frozenset()
    assert fourdme.parse_aus("AUL12+AU1").aus == {1, 12} and fourdme.parse_aus("AUL12").sides == ("L12",)


def test_smic_is_emotion_only_and_says_what_it_serves(roots):
    samples = load_samples("phantom-smic", roots["smic"])
    assert all(s.aus == frozenset() and s.notes == () for s in samples)
    assert {s.emotion3 for s in samples} <= {"positive", "negative", "surprise"}
    import pandas as pd

    sheet = pd.read_excel(next(roots["smic"].glob("*.xlsx")), dtype=object)
    offset = {f"s{r.Subject}/{r.Filename}": int(r.OffsetF) for r in sheet.itertuples()}
    assert all(s.apex_frame == (s.onset_frame + offset[s.id]) // 2 for s in samples)  # no apex coded
    with pytest.raises(ValueError, match=r"emotions only.*label-free.*--train casme2 --test smic"):
        registry.evaluated_aus("smic")
    assert registry.evaluated_aus("casme2+smic") == registry.evaluated_aus("casme2")


def test_a_sheet_cell_cannot_lead_outside_the_data_root(roots, tmp_path):
    """MMEW files clips by emotion: an emotion cell is a path too, and must stay inside."""
    from openpyxl import load_workbook

    root = _copy(roots["mmew"], tmp_path)
    (root / ".phantom-complete.json").unlink()
    sheet = next(root.glob("*.xlsx"))
    wb = load_workbook(sheet)
    ws = wb.active
    ws.cell(row=2, column=7, value="../../outside")
    wb.save(sheet)
    with pytest.raises(ValueError, match=r"lead outside the frame folder[\s\S]*row 2, emotion '\.\./\.\./outside'"):
        load_samples("mmew", root)


def test_registry_names_composites_and_evaluated_aus():
    for name in ("casme3", "casme", "4dme", "mmew", "smic"):
        assert name in registry.DATASETS and f"phantom-{name}" in registry.DATASETS
        assert registry.sheet_spec(name).lenient_rows
    assert registry.check("casme2+samm") == "casme2+samm"
    assert registry.parts("phantom-casme2+phantom-samm") == ("phantom-casme2", "phantom-samm")
    assert registry.is_phantom("phantom-casme2+phantom-samm") and not registry.is_phantom("casme2+phantom-samm")
    assert registry.source_of("casme2+phantom-samm") == "casme2+phantom"
    assert registry.evaluated_aus("casme2+samm") == (2, 4, 7, 12)
    assert registry.evaluated_aus("phantom-casme3") == (1, 2, 4, 7, 12, 14, 15, 17)
    assert registry.evaluated_aus("casme2") == (1, 2, 4, 7, 12, 14, 15, 17)  # the paper's, unchanged
    for bad in ("casme2+casme2", "casme2+nothing"):
        with pytest.raises(ValueError, match="unknown dataset"):
            registry.check(bad)
    with pytest.raises(FileNotFoundError, match=r"--root casme2=DIR"):
        registry.root_for_name("casme2+phantom-samm")
    assert registry.root_from_map("casme2+phantom-samm", {"casme2": "/d/C"}) == '{"casme2": "/d/C"}'
    assert registry.part_roots("casme2+phantom-samm", '{"casme2": "/d/C"}') == {"casme2": "/d/C",
                                                                               "phantom-samm": None}


def test_cli_writes_and_summarises_a_new_layout(tmp_path, capsys):
    out = tmp_path / "c3"
    assert main(["phantom", "--like", "casme3", "--subjects", "1", "--out", str(out), "--no-progress"]) == 0
    assert (out / casme3.SHEET_NAME).is_file() and (out / "exception").is_dir()
    assert main(["data", "summary", "--dataset", "casme3", "--root", str(out)]) == 0
    text = capsys.readouterr().out
    assert "dataset: casme3" in text and "apex frames not taken as coded:" in text


def test_the_book_chapter_shows_the_formats_and_the_harmonisation_table():
    """book/other_datasets.md holds the tables microau.data.harmonise computes (regenerate them
    with harmonise.book_tables() when a spec or the AU lists change)."""
    from microau.data import harmonise

    root = Path(__file__).resolve().parents[1]
    page = (root / "book" / "other_datasets.md").read_text(encoding="utf-8")
    for name, table in harmonise.book_tables().items():
        assert table in page, f"the {name} table of book/other_datasets.md is out of date"
    assert "file: other_datasets" in (root / "_toc.yml").read_text()
    table = harmonise.harmonisation_table()
    assert list(table.AU) == [f"AU{a}" for a in (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17)]
    assert table.set_index("AU").loc["AU5", "model reads it"].startswith("no")
    assert table.set_index("AU").loc["AU14", "SAMM"] == "-" and table.set_index("AU").loc["AU14", "MMEW"] == "scored"
