"""The preflight names each need of a profile, says what to do about the missing ones, and the
command's exit code tells whether a run can start."""
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixtures_sheets import CASME2_ROWS, write_casme2  # noqa: E402

from microau import doctor  # noqa: E402
from microau.cli import build_parser  # noqa: E402


@pytest.fixture
def offline_empty_hub(tmp_path, monkeypatch):
    import huggingface_hub.constants as hc

    (tmp_path / "hub").mkdir()
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _by_name(checks):
    return {c.name.split(" (")[0]: c for c in checks}


def test_paper_profile_offline_without_data_lists_what_is_missing(tmp_path, offline_empty_hub):
    checks = doctor.preflight("paper", {"casme2": str(tmp_path / "nowhere")}, runs_dir=tmp_path / "runs")
    names = [c.name for c in checks]
    assert names[0] == "data casme2" and names[1].startswith("CLIP ViT-B-32")
    assert [n.split(" (")[0] for n in names[2:]] == ["magnifier", "GPU", "disk"]
    by = _by_name(checks)
    assert by["data casme2"].blocking and "nowhere" in by["data casme2"].detail
    clip = by["CLIP ViT-B-32"]
    assert clip.blocking and "HF_HUB_OFFLINE" in clip.detail
    assert "timm/vit_base_patch32_clip_224.openai" in clip.fix and "--pretrained PATH" in clip.fix
    assert not by["magnifier"].required  # linear is the default; the detail names the paper's choice
    assert "--magnify learned" in by["magnifier"].detail
    report = doctor.format_report(checks)
    assert "not ready: 2 required item(s) missing" in report and "-> " in report


def test_data_sheet_and_frames_are_read_as_a_run_reads_them(tmp_path):
    root = write_casme2(tmp_path / "CASME2")
    check = doctor.check_dataset("casme2", {"casme2": str(root)})
    assert check.ok, check.detail
    assert f"{len({(r.subject, r.filename) for r in CASME2_ROWS})} clips" in check.detail
    missing = doctor.check_dataset("casme2", None)
    assert missing.blocking and "--root casme2=DIR" in missing.fix


def test_clip_file_and_learned_magnifier_checks(tmp_path):
    from microau.model.backbone import load_clip
    from microau.prep import magnify as mg
    from microau.prep.magnet_formats import save_magnet

    torch.manual_seed(0)
    torch.save(load_clip("microau-tiny", None).state_dict(), tmp_path / "tiny.pt")
    assert doctor.check_clip("microau-tiny", str(tmp_path / "tiny.pt")).ok
    wrong = doctor.check_clip("microau-small", str(tmp_path / "tiny.pt"))
    assert wrong.blocking and "mis-shaped" in wrong.detail
    none = doctor.check_magnifier("learned", None)
    assert none.blocking and "--magnify-checkpoint PATH" in none.fix
    save_magnet(mg.MagNet(), tmp_path / "magnet.pth")
    ok = doctor.check_magnifier("learned", str(tmp_path / "magnet.pth"))
    assert ok.ok and "microau" in ok.detail
    torch.save({"x": torch.zeros(1)}, tmp_path / "junk.pth")
    bad = doctor.check_magnifier("learned", str(tmp_path / "junk.pth"))
    assert bad.blocking and "does not fit MagNet" in bad.detail


def test_gpu_is_required_only_when_asked_for():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert doctor.check_gpu("cuda", "paper").blocking
    paper = doctor.check_gpu(None, "paper")
    assert not paper.ok and not paper.required and "--device cuda" in paper.fix
    assert doctor.check_gpu(None, "smoke").ok


def test_disk_check_reports_free_space(tmp_path):
    check = doctor.check_disk([tmp_path / "not" / "yet" / "made"])
    assert "GiB free" in check.detail and not check.required


def test_command_exit_code_says_whether_a_run_can_start(tmp_path, capsys, offline_empty_hub):
    parser = build_parser()
    if "doctor" not in parser._subparsers._group_actions[0].choices:  # until the CLI lists the module
        sub = parser._subparsers._group_actions[0]
        doctor.register(sub)
    args = parser.parse_args(["doctor", "--profile", "smoke", "--datasets", "phantom-casme2",
                              "--runs", str(tmp_path)])
    assert args.func(args) == 0
    assert "ready: nothing required is missing" in capsys.readouterr().out
    args = parser.parse_args(["doctor", "--profile", "paper", "--root", f"casme2={tmp_path / 'x'}",
                              "--runs", str(tmp_path)])
    assert args.func(args) == 1
    out = capsys.readouterr().out
    assert "[MISS] data casme2" in out and "[MISS] CLIP ViT-B-32" in out
