"""The flow cache computes each pair once and never returns a stale flow."""

import numpy as np
from DTCSegmentationLib.temporal.flow import FlowSettings, flow_to_previous
from DTCTrainingLib.data.flow_cache import FlowCache


def frames(seed=0):
    import cv2

    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur((rng.random((48, 64)) * 255).astype(np.uint8), (0, 0), 1.5)
    return np.roll(base, 2, axis=1), base


def test_cache_computes_once_and_returns_the_same_flow(tmp_path):
    current, previous = frames()
    cache = FlowCache(tmp_path / "flows")
    first = cache.flow(current, previous)
    second = cache.flow(current, previous)
    assert (cache.misses, cache.hits) == (1, 1)
    np.testing.assert_allclose(second, flow_to_previous(current, previous), atol=0.01)
    np.testing.assert_allclose(first, second, atol=0.01)
    assert len(list((tmp_path / "flows").rglob("*.npy"))) == 1
    assert not list((tmp_path / "flows").rglob("*.partial*"))


def test_new_content_or_settings_are_new_entries(tmp_path):
    current, previous = frames()
    cache = FlowCache(tmp_path)
    cache.flow(current, previous)
    cache.flow(frames(1)[0], previous)
    FlowCache(tmp_path, FlowSettings(method="dis_fast")).flow(current, previous)
    assert cache.misses == 2 and len(list(tmp_path.rglob("*.npy"))) == 3


def test_a_corrupt_entry_is_recomputed(tmp_path):
    current, previous = frames()
    cache = FlowCache(tmp_path)
    cache.flow(current, previous)
    entry = next(tmp_path.rglob("*.npy"))
    entry.write_bytes(b"garbage")
    flow = cache.flow(current, previous)
    assert cache.misses == 2 and flow.shape == (48, 64, 2)
    assert np.load(entry).shape == (48, 64, 2)


def test_without_a_directory_nothing_is_kept():
    current, previous = frames()
    cache = FlowCache(None)
    cache.flow(current, previous)
    cache.flow(current, previous)
    assert cache.misses == 2 and cache.hits == 0


def test_an_interrupted_write_leaves_no_partial_entry(tmp_path, monkeypatch):
    current, previous = frames()
    real_save = np.save

    def save_then_interrupt(path, array):
        real_save(path, array)
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "save", save_then_interrupt)
    try:
        FlowCache(tmp_path).flow(current, previous)
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("the interrupt was swallowed")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
