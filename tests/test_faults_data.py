"""Issue 14, data cases: damaged or hostile inputs a user may hand the data layer. Each test
fails on the code before the fix (commit 1cf2a55) and passes after."""
from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixtures_sheets import (  # noqa: E402
    Row,
    write_casme2,
    write_frame,
    write_samm,
)

from microau.cli import main  # noqa: E402
from microau.data import phantom as ph  # noqa: E402
from microau.data import registry  # noqa: E402
from microau.data.au_strings import parse_au_string  # noqa: E402
from microau.data.registry import load_samples  # noqa: E402


def _tree(root: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under ``root``."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------------------- (1) data loss
def test_phantom_refuses_a_folder_it_did_not_write(tmp_path, capsys):
    out = tmp_path / "mine"
    user = write_casme2(out)  # a user's own CASME II copy: sheet and CASME2_RAW_selected/
    (out / "notes.txt").write_text("my notes")
    before = _tree(user)
    assert main(["phantom", "--like", "casme2", "--out", str(out), "--subjects", "1",
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "not empty" in err and ph.MARKER in err and "nothing was changed" in err
    assert "--out" in err  # says what to do
    assert _tree(out) == before
    assert not list(tmp_path.glob(".*partial*"))


def test_phantom_rerun_replaces_only_its_own_files(tmp_path, capsys):
    out = tmp_path / "ph"
    run = ["phantom", "--like", "samm", "--out", str(out), "--no-progress"]
    assert main(run + ["--subjects", "1"]) == 0
    # the user adds notes, a sheet of their own, and a file inside the phantom's frame tree
    (out / "notes.txt").write_text("my notes")
    (out / "my_codes.xlsx").write_bytes(b"not really a workbook")
    first_subject = out / ph.SAMM_FRAMES / ph.SAMM_SUBJECTS[0]
    (first_subject / "remark.txt").write_text("checked by hand")
    mine = {k: v for k, v in _tree(out).items()
            if k in ("notes.txt", "my_codes.xlsx", f"{ph.SAMM_FRAMES}/{ph.SAMM_SUBJECTS[0]}/remark.txt")}
    assert len(mine) == 3

    assert main(run + ["--subjects", "2"]) == 0
    assert ph.is_complete(out, "samm", 0, 2)
    assert {k: v for k, v in _tree(out).items() if k in mine} == mine
    assert (out / ph.SAMM_FRAMES / ph.SAMM_SUBJECTS[1]).is_dir()

    assert main(run + ["--subjects", "1"]) == 0  # back to one subject
    assert ph.is_complete(out, "samm", 0, 1)
    assert not (out / ph.SAMM_FRAMES / ph.SAMM_SUBJECTS[1]).exists()  # the phantom's, removed
    assert {k: v for k, v in _tree(out).items() if k in mine} == mine
    assert len(load_samples("phantom-samm", out)) == len(ph.read_truth(out))

    # a file the phantom wrote and the user changed since is not replaced either
    sheet = out / ph.SAMM_SHEET
    sheet.write_bytes(sheet.read_bytes() + b"edited")
    edited = sheet.read_bytes()
    assert main(run + ["--subjects", "2"]) == 2
    err = capsys.readouterr().err
    assert "changed since the phantom wrote it" in err and ph.SAMM_SHEET in err
    assert sheet.read_bytes() == edited


# ----------------------------------------------------------------------------- (3) outside the root
@pytest.mark.parametrize("kind", ["parent", "absolute", "symlink"])
def test_sheet_cells_cannot_lead_outside_the_data_root(tmp_path, capsys, kind):
    elsewhere = tmp_path / "elsewhere"
    root = tmp_path / "data" / "CASME2"
    if kind == "parent":
        filename = "../../../../elsewhere/x"
        outside_clip = elsewhere / "x"
    elif kind == "absolute":
        filename = str(elsewhere / "y")
        outside_clip = elsewhere / "y"
    else:
        filename, outside_clip = "EP05_01", elsewhere / "sub02" / "EP05_01"
    rows = (Row(1, "EP02_01f", 46, 59, 86, "4+7", "disgust"),
            Row(2, filename, 10, 20, 30, "12", "happiness"))
    write_casme2(root, rows=rows[:1])
    from fixtures_sheets import write_casme2_sheet
    write_casme2_sheet(root, rows)
    for frame in (10, 20):  # frames exist where the cell leads, so a reader that follows it reads them
        write_frame(outside_clip / f"img{frame}.jpg")
    if kind == "symlink":
        os.symlink(elsewhere / "sub02", root / "CASME2_RAW_selected" / "sub02")
    else:
        (root / "CASME2_RAW_selected" / "sub02").mkdir()
        assert (root / "CASME2_RAW_selected" / "sub02" / filename / "img10.jpg").is_file()

    with pytest.raises(ValueError) as err:
        load_samples("casme2", root)
    msg = str(err.value)
    cell = "Subject" if kind == "symlink" else "Filename"
    assert re.search(rf"row 3, {cell} '[^']*' -> ", msg), msg
    assert "outside the frame folder" in msg and "nothing was read from there" in msg
    # the command says so without a traceback
    assert main(["data", "summary", "--dataset", "casme2", "--root", str(root)]) == 2
    out = capsys.readouterr()
    assert "row 3" in out.err and "Traceback" not in out.err + out.out


def test_samm_filename_outside_the_root_and_a_linked_root_that_is_fine(tmp_path):
    root = write_samm(tmp_path / "SAMM_root")
    rows = (Row(6, "006_1_2", 5562, 5588, 5632, "4+7", "Anger"),
            Row(6, "../../../outside", 5, 9, 20, "4", "Anger"))
    from fixtures_sheets import write_samm_sheet
    write_samm_sheet(root, rows)
    for f in (5, 9):
        write_frame(root / "SAMM" / "006" / "../../../outside" / f"006_{f:05d}.jpg")
    with pytest.raises(ValueError, match=r"row 10, Filename '\.\./\.\./\.\./outside'"):
        load_samples("samm", root)
    # a root (or frame folder) that is itself a link is the user's choice, and is followed
    good = write_samm(tmp_path / "real")
    link = tmp_path / "linked"
    os.symlink(good, link)
    assert len(load_samples("samm", link)) == len(load_samples("samm", good))


# ----------------------------------------------------------------------------- (6) one bad row
def _clip_frames(root: Path, subject: str, clip: str, frames) -> None:
    for f in frames:
        write_frame(root / "CASME2_RAW_selected" / subject / clip / f"img{f}.jpg")


def test_apex_typos_get_a_noted_fallback_not_a_refused_data_set(tmp_path, capsys):
    root = tmp_path / "c2"
    rows = (Row(1, "EP02_01f", 46, 59, 86, "4+7", "disgust"),
            Row(1, "EP03_02", 10, 50, 40, "12", "happiness"),   # apex after the offset
            Row(2, "EP04_01", 10, 25, 40, "14", "others"))      # apex without an image
    write_casme2(root, rows=rows[:1])
    from fixtures_sheets import write_casme2_sheet
    write_casme2_sheet(root, rows)
    _clip_frames(root, "sub01", "EP03_02", range(10, 41))        # the clip's frames, not img50
    _clip_frames(root, "sub02", "EP04_01", (10, 20, 30, 40))     # 20 and 30 equally near 25
    by_id = {s.id: s for s in load_samples("casme2", root)}
    assert len(by_id) == 3
    late, gap = by_id["sub01/EP03_02"], by_id["sub02/EP04_01"]
    assert late.apex_frame == 40 and late.apex_path.name == "img40.jpg"
    assert gap.apex_frame == 20 and gap.apex_path.name == "img20.jpg"  # tie: the earlier frame
    (note,) = late.notes
    assert "apex frame 50" in note and "outside onset..offset 10..40" in note
    assert "using frame 40" in note and "sheet row 3" in note
    assert "apex frame 25 has no image" in gap.notes[0] and "using frame 20" in gap.notes[0]
    assert by_id["sub01/EP02_01f"].notes == ()

    assert main(["data", "summary", "--dataset", "casme2", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "apex frames not taken as coded: 2" in out
    assert re.search(r"^  sub01/EP03_02: apex frame 50 .*using frame 40.*sheet row 3", out, re.M)
    assert re.search(r"^  sub02/EP04_01: apex frame 25 .*using frame 20.*sheet row 4", out, re.M)


def test_missing_onset_or_clip_folder_stays_an_error(tmp_path):
    root = tmp_path / "c2"
    rows = (Row(1, "EP02_01f", 46, 59, 86, "4", "disgust"),
            Row(1, "EP03_02", 10, 15, 40, "12", "happiness"))
    write_casme2(root, rows=rows)
    _clip_frames(root, "sub01", "EP03_02", range(11, 41))
    (root / "CASME2_RAW_selected/sub01/EP03_02/img10.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"img10\.jpg"):
        load_samples("casme2", root)
    import shutil
    shutil.rmtree(root / "CASME2_RAW_selected/sub01/EP03_02")
    with pytest.raises(FileNotFoundError, match=r"EP03_02/img10\.jpg[\s\S]*EP03_02/img15\.jpg"):
        load_samples("casme2", root)


# ----------------------------------------------------------------------------- (7) smaller
def test_au_numbers_outside_facs_are_noted(tmp_path):
    parsed = parse_au_string("12+99")
    assert parsed.aus == {12} and parsed.ambiguous
    assert any("AU99" in n and "not a FACS code" in n for n in parsed.notes)
    root = write_casme2(tmp_path / "c2", rows=(Row(1, "EP02_01f", 46, 59, 86, "12+99", "happiness"),))
    (s,) = load_samples("casme2", root)
    assert any("AU99" in n for n in s.notes)
    # every AU the real sheets code is a FACS code (no note)
    for cell in ("1+2+4+5+6+7+8+9+10", "12+13+14+15+16+17+18+20+21", "23+24+25+26+31+38+39+43+56+61"):
        assert parse_au_string(cell).notes == ()


def test_phantom_written_on_first_use_draws_no_bar_unless_asked(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MICROAU_CACHE", str(tmp_path))
    ph.ensure_phantom("samm", n_subjects=1)  # what library code calls when it needs the data
    assert "clip" not in capsys.readouterr().err
    root = registry.root_for_name("phantom-samm", n_subjects=2, progress=False)
    assert "clip" not in capsys.readouterr().err and ph.is_complete(root, "samm", 0, 2)
    registry.root_for_name("phantom-casme2", n_subjects=1, progress=True)
    assert "clip" in capsys.readouterr().err


def test_phantom_written_before_the_file_list_is_rewritten_only_in_its_files(tmp_path):
    out = ph.write_phantom("samm", tmp_path / "old", seed=0, n_subjects=2, progress=False)
    (out / ph.FILE_LIST).unlink()  # as the writer before the list left it
    (out / "notes.txt").write_text("mine")
    ph.write_phantom("samm", out, seed=0, n_subjects=1, progress=False)
    assert ph.is_complete(out, "samm", 0, 1) and (out / "notes.txt").read_text() == "mine"
    assert not (out / ph.SAMM_FRAMES / ph.SAMM_SUBJECTS[1]).exists()
    assert sorted(_tree(out)) == sorted([*ph.legacy_files(out), ph.FILE_LIST, "notes.txt"])


def test_phantom_does_not_write_or_delete_through_a_link(tmp_path):
    out = ph.write_phantom("samm", tmp_path / "ph", seed=0, n_subjects=1, progress=False)
    frames = out / ph.SAMM_FRAMES
    moved = tmp_path / "my_frames"
    frames.rename(moved)  # the user moves the frame tree away and links to it
    os.symlink(moved, frames)
    before = _tree(moved)
    with pytest.raises(ph.PhantomFolderError, match=f"a link, not a folder the phantom made: {ph.SAMM_FRAMES}"):
        ph.write_phantom("samm", out, seed=0, n_subjects=2, progress=False)
    assert _tree(moved) == before
