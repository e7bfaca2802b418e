"""The shared run options: defined once, on every command that trains or predicts, recorded in the
run's config (and so in its key), and failing in one line when the weights cannot be had."""
from __future__ import annotations

import pytest

from microau import cli
from microau.cli_args import configs_from_args, parse_roots
from microau.train.loso import config_key

TRAINING_COMMANDS = (["loso"], ["reproduce"], ["train-final", "--out", "m.pt"])


@pytest.mark.parametrize("command", TRAINING_COMMANDS, ids=lambda c: c[0])
def test_every_training_command_takes_the_shared_options(command):
    args = cli.build_parser().parse_args(
        command + ["--profile", "paper", "--pretrained", "/w/clip.pt", "--magnify", "learned",
                   "--magnify-checkpoint", "/w/magnet.pth", "--epochs", "3", "--seed", "7"])
    datasets = getattr(args, "datasets", None) or [args.dataset]
    variants = [getattr(args, "variant", "full")]
    cfg = configs_from_args(args, variants, datasets)[0]
    assert cfg.pretrained == "/w/clip.pt" and cfg.magnify == "learned"
    assert cfg.magnify_checkpoint == "/w/magnet.pth" and cfg.epochs == 3 and cfg.seed == 7


def test_predict_takes_the_magnifier_options():
    args = cli.build_parser().parse_args(["predict", "--checkpoint", "m.pt", "--onset", "a.jpg",
                                          "--apex", "b.jpg", "--magnify-checkpoint", "/w/magnet.pth"])
    assert args.magnify_checkpoint == "/w/magnet.pth"


def test_weights_and_magnifier_enter_the_run_key():
    parser = cli.build_parser()

    def key(*extra):
        args = parser.parse_args(["loso", "--profile", "smoke", *extra])
        return config_key(configs_from_args(args, [args.variant], [args.dataset])[0])

    plain = key()
    assert key("--pretrained", "none") == plain  # the smoke profile is random init already
    assert key("--pretrained", "/w/clip.pt") != plain
    assert key("--magnify", "none") != plain


def test_learned_magnifier_needs_its_checkpoint(capsys):
    assert cli.main(["loso", "--profile", "smoke", "--magnify", "learned"]) == 2
    err = capsys.readouterr().err
    assert "--magnify-checkpoint" in err and "Traceback" not in err


def test_epochs_below_one_are_refused(capsys):
    assert cli.main(["loso", "--profile", "smoke", "--epochs", "0"]) == 2
    assert "at least one epoch" in capsys.readouterr().err


def test_paper_profile_without_weights_fails_in_one_line(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty hub cache
    code = cli.main(["loso", "--profile", "paper", "--dataset", "phantom-samm", "--subjects", "2",
                     "--runs", str(tmp_path / "runs")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "--pretrained PATH" in err and "openai" in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("DONE"))


def test_roots_parse_and_name_what_is_missing():
    assert parse_roots(["samm=/data/S"], ["samm"]) == {"samm": "/data/S"}
    with pytest.raises(ValueError, match="--root samm=DIR"):
        parse_roots(None, ["samm"])
    with pytest.raises(ValueError, match="unknown dataset"):
        parse_roots(["casme9=/x"], [])
