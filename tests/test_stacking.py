"""Stacked training of members that differ by fold, fine-tuning seed and backbone: equal to each
member trained alone and to the per-fold reference, in float64 (so the tolerances are rounding
error of a few hundred float64 operations, not training noise), and many runs written as
``run_loso`` writes one."""
import contextlib
import json

import numpy as np
import pytest
import torch

from microau.config import make_config
from microau.train.data import TrainData
from microau.train.fast import train_members
from microau.train.members import Member, build_stack, computation_key
from microau.train.reference import train_fold_reference

ATOL64 = 1e-10  # float64: ~1e-16 per operation, amplified by a few training steps


@contextlib.contextmanager
def float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def _data64(seed=5):
    # subjects with 3, 5 and 7 clips: members have different numbers (and sizes) of batches
    d = TrainData.synthetic(n_subjects=3, clips_per_subject=5, seed=seed)
    d.subjects = ["a"] * 3 + ["b"] * 5 + ["c"] * 7
    d.images, d.landmarks = d.images.double(), d.landmarks.double()
    return d


@pytest.fixture(scope="module")
def backbones(tmp_path_factory, tiny_clip_factory):
    """Two checkpoints of the tiny CLIP that differ in every tensor a training step reads,
    frozen ones included (ln_post, proj, logit_scale, the text tower's frozen blocks)."""
    out = []
    folder = tmp_path_factory.mktemp("backbones")
    for seed in (11, 12):
        state = tiny_clip_factory(seed).state_dict()
        g = torch.Generator().manual_seed(seed)
        for name in ("visual.ln_post.weight", "visual.ln_post.bias", "ln_final.weight"):
            state[name] = state[name] + 0.1 * torch.randn(state[name].shape, generator=g)
        state["logit_scale"] = torch.tensor(float(seed) / 4)
        path = folder / f"tiny{seed}.pt"
        torch.save(state, path)
        out.append(str(path))
    return out


def _cfgs(backbones, variant="full", **over):
    base = make_config("smoke", variant, dataset="phantom-casme2", epochs=2, batch_size=4, momentum=0.9,
                       lr_decay_epoch=1, **over)
    return [base.replace(seed=s, pretrained=p) for p in backbones for s in (1, 2)]


def _assert_same(a, b, atol=ATOL64):
    assert a.fold == b.fold and a.subject == b.subject
    np.testing.assert_array_equal(a.test_index, b.test_index)
    for name in ("probs", "au_features", "token_weights", "dependency", "prompt_features"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            np.testing.assert_allclose(x, y, rtol=0, atol=atol, err_msg=name)
    np.testing.assert_allclose(a.epoch_loss, b.epoch_loss, rtol=atol)


@pytest.mark.parametrize("variant", ["full", "table8/global_origcl", "table2/gsd_only"])
def test_members_of_many_seeds_and_backbones_equal_each_member_alone(backbones, variant):
    with float64():
        d = _data64()
        members = [Member(c, f) for c in _cfgs(backbones, variant) for f in range(3)]
        stack = build_stack(members, d)
        together = train_members(members, d)
        some = [0, 4, 8, 9]  # every (seed, backbone), each at another fold
        alone = {k: train_members([members[k]], d)[0] for k in some}
    # two backbones: two visual prefix caches, and the frozen tensors that differ are stacked
    assert stack.prefixes.shape[0] == 2
    for name in ("model.visual.visual.ln_post.weight", "scale", "model.logit_scale"):
        assert name in stack.frozen
    assert not any(".resblocks.0." in n for n in stack.frozen)  # the frozen prefix is never stacked
    for k, b in alone.items():
        _assert_same(together[k], b)
    # seeds and backbones change the result
    assert not np.allclose(together[0].probs, together[3].probs)
    assert not np.allclose(together[0].probs, together[6].probs)


def test_stacked_members_equal_the_per_fold_reference(backbones):
    with float64():
        d = _data64(seed=6)
        members = [Member(c, f) for c, f in zip(_cfgs(backbones), (2, 0, 1, 2))]
        fast = train_members(members, d)
        ref = [train_fold_reference(m.cfg, d, m.fold) for m in members]
    for a, b in zip(ref, fast):
        _assert_same(a, b)


def test_only_seed_and_backbone_may_differ(backbones):
    a, b = _cfgs(backbones)[:2]
    assert computation_key(a) == computation_key(b)
    other = a.replace(lsi="meanpool")
    assert computation_key(other) != computation_key(a)
    d = TrainData.synthetic(n_subjects=3, clips_per_subject=3, seed=0)
    with pytest.raises(ValueError, match="differ only by"):
        build_stack([Member(a, 0), Member(other, 0)], d)


def test_sparse_last_block_does_not_change_training(backbones):
    with float64():
        d = _data64(seed=7)
        members = [Member(c, f) for c in _cfgs(backbones)[:2] for f in range(3)]
        sparse = train_members(members, d, sparse=True)
        full = train_members(members, d, sparse=False)
    for a, b in zip(full, sparse):
        _assert_same(a, b)


def test_a_group_of_runs_is_stored_as_each_run_alone(tmp_path, backbones):
    from microau.train.group import group_configs, train_run_group
    from microau.train.loso import OUTPUTS, RunResult, run_loso

    with float64():
        d = _data64(seed=8)
        cfgs = _cfgs(backbones)
        grouped = train_run_group(cfgs, tmp_path / "group", data=d, progress=False, budget=3e6)
        alone = [run_loso(c, runs_dir=tmp_path / "alone", data=d, progress=False) for c in cfgs]
    assert len(group_configs(cfgs + [cfgs[0].replace(lsi="meanpool")])) == 2
    for g, a in zip(grouped, alone):
        assert g.run_dir.relative_to(tmp_path / "group") == a.run_dir.relative_to(tmp_path / "alone")
        assert sorted(p.name for p in g.run_dir.iterdir()) == sorted(p.name for p in a.run_dir.iterdir())
        back = RunResult.load(g.run_dir)  # checksums verified
        assert set(json.loads((g.run_dir / "DONE").read_text())["outputs"]) == set(OUTPUTS)
        assert set(back.meta) == set(a.meta) and back.meta["trainer"] == "fast"
        assert (g.run_dir / "config.yaml").read_text() == (a.run_dir / "config.yaml").read_text()
        np.testing.assert_allclose(back.predictions.prob, a.predictions.prob, rtol=0, atol=1e-7)
        assert back.predictions.drop(columns="prob").equals(a.predictions.drop(columns="prob"))
        np.testing.assert_allclose(back.arrays()["au_features"], a.arrays()["au_features"], atol=1e-6)
    # asked again, every run is read back
    stamp = (grouped[0].run_dir / "DONE").read_text()
    again = train_run_group(cfgs, tmp_path / "group", data=d, progress=False)
    assert (grouped[0].run_dir / "DONE").read_text() == stamp and again[0].f1 == grouped[0].f1


def test_ensure_runs_trains_runs_that_differ_by_seed_as_one_group(monkeypatch, tmp_path):
    import microau.runs as runs

    calls = []
    monkeypatch.setattr(runs, "run_dir_for", lambda cfg, where: tmp_path / f"{cfg.variant}-{cfg.seed}")
    monkeypatch.setattr(runs, "run_is_finished", lambda d: False)
    monkeypatch.setattr(runs.registry, "root_for", lambda cfg, progress=True: None)
    monkeypatch.setattr(runs, "prepare_for", lambda cfg, progress=True: __import__("types").SimpleNamespace(
        summary=lambda: {"clips": 0, "computed": 0}))
    monkeypatch.setattr(runs, "load_train_data", lambda cfg, progress=True, prepared=None: "data")
    monkeypatch.setattr(runs, "run_loso", lambda cfg, **k: calls.append(("alone", cfg.variant, cfg.seed)))
    monkeypatch.setattr(runs, "train_run_group", lambda cfgs, where, **k: calls.append(("group", [c.seed for c in cfgs])))
    cfgs = [make_config("smoke", "full").replace(seed=s) for s in (1, 2, 3)] + [make_config("smoke", "table8/no_cl")]
    assert runs.ensure_runs(cfgs, tmp_path, jobs=1, progress=False) == 4
    assert calls == [("group", [1, 2, 3]), ("alone", "table8/no_cl", 1)]
