import pytest

from microau.config import PROFILES, VARIANTS, Config, make_config


def test_yaml_round_trip(tmp_path):
    cfg = make_config("quick", "table5/beta_0.4", dataset="phantom-samm")
    cfg.to_yaml(tmp_path / "c.yaml")
    back = Config.from_yaml(tmp_path / "c.yaml")
    assert back == cfg
    assert back.beta == 0.4 and back.loss_weights == (1.0, 0.4)


def test_paper_profile_is_section_iv_a():
    cfg = make_config("paper", "full", dataset="casme2")
    assert (cfg.clip_model, cfg.pretrained) == ("ViT-B-32", "openai")
    assert (cfg.epochs, cfg.lr_decay_epoch, cfg.batch_size, cfg.seed) == (80, 40, 8, 1)
    assert (cfg.lr_clip, cfg.lr_other) == (1e-3, 1e-2)
    assert cfg.visual_trainable_blocks == cfg.text_trainable_blocks == 3


def test_every_table_row_has_a_variant():
    rows = {
        "table2": 3, "table3": 2, "table4": 5, "table5": 5, "table6": 3, "table7": 3, "table8": 4, "table10": 2,
    }
    for table, n in rows.items():
        assert sum(v.startswith(table + "/") for v in VARIANTS) == n, table
    assert make_config("smoke", "table6/meanpool").lsi == "meanpool"
    assert make_config("smoke", "table2/gsd_only").lsi == "cls_proj"  # "LSI x" reading (issue 11)
    assert make_config("smoke", "table3/text_fixed").text_trainable_blocks == 0
    assert make_config("smoke", "table8/local_origcl").contrastive == "local"


def test_bad_values_give_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown variant"):
        make_config("quick", "table99/x")
    with pytest.raises(ValueError, match="unknown profile"):
        make_config("huge")
    with pytest.raises(ValueError, match="lsi"):
        Config(lsi="attention")
    (tmp_path / "bad.yaml").write_text("epochz: 3\n")
    with pytest.raises(ValueError, match="epochz"):
        Config.from_yaml(tmp_path / "bad.yaml")
    assert set(PROFILES) == {"smoke", "quick", "quick-scratch", "paper"}
