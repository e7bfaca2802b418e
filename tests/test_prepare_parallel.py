"""Preparation in forked worker processes: the same arrays as in one process, stage times,
errors and drops that cross the process boundary whole."""
from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import numpy as np
import pytest

from microau.data import phantom as ph
from microau.data.registry import load_samples
from microau.prep import pipeline
from microau.prep.pipeline import DamagedFrameError, PrepSettings, prepare_samples

FAST = PrepSettings(tvl1_nscales=1, tvl1_warps=1, tvl1_outer_iterations=1, tvl1_inner_iterations=5)


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    root = ph.write_phantom("samm", tmp_path_factory.mktemp("ph") / "set", seed=0, n_subjects=2, progress=False)
    return load_samples("phantom-samm", root)[:6]


def test_forked_workers_give_the_arrays_of_one_process(samples, tmp_path, caplog):
    one = prepare_samples(samples, FAST, cache_dir=tmp_path / "one", workers=1, progress=False)
    n0 = pipeline.COMPUTE_COUNT
    with caplog.at_level("INFO", logger="microau"):
        two = prepare_samples(samples, FAST, cache_dir=tmp_path / "two", workers=2, progress=False)
    assert pipeline.COMPUTE_COUNT == n0 + len(samples)  # the workers' clips are counted here
    assert np.array_equal(one.flow_images, two.flow_images) and np.array_equal(one.landmarks, two.landmarks)
    assert one.fallbacks == two.fallbacks and not two.from_cache.any()
    assert set(pipeline.STAGES) <= set(two.seconds) and two.seconds["wall"] > 0
    for stage in ("read", "detect", "tvl1", "landmarks"):
        assert two.seconds[stage] > 0, stage
    assert sum(two.seconds[s] for s in pipeline.STAGES) > 0.5 * two.seconds["wall"]
    assert "computed by 2 processes" in caplog.text and "ms per computed clip" in caplog.text
    again = prepare_samples(samples, FAST, cache_dir=tmp_path / "two", workers=2, progress=False)
    assert again.from_cache.all() and pipeline.COMPUTE_COUNT == n0 + len(samples)
    assert again.seconds["tvl1"] == 0 and np.array_equal(again.flow_images, two.flow_images)


def test_a_damaged_frame_raises_in_a_worker_as_it_would_here(samples, tmp_path):
    bad = tmp_path / "bad.jpg"
    data = Path(samples[1].apex_path).read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    broken = [samples[0], dataclasses.replace(samples[1], apex_path=bad), samples[2]]
    with pytest.raises(DamagedFrameError, match="bad.jpg") as err:
        prepare_samples(broken, FAST, cache_dir=tmp_path / "c", workers=2, progress=False)
    assert "truncated" in err.value.reason
    kept = prepare_samples(broken, dataclasses.replace(FAST, on_unreadable="drop"), cache_dir=tmp_path / "c",
                           workers=2, progress=False)
    assert [s.id for s in kept.samples] == [samples[0].id, samples[2].id]
    assert list(kept.dropped) == [samples[1].id] and "bad.jpg" in kept.dropped[samples[1].id]
    again = pickle.loads(pickle.dumps(DamagedFrameError("damaged image file x", "why")))
    assert str(again) == "damaged image file x" and again.reason == "why"
