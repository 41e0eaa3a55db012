"""The corpus cache: decoded once, mapped by every later load, rebuilt (saying why) when its sources change."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import SENTENCES, write_nsml
from tune_asr.config import TrainConfig
from tune_asr.data import cache as cache_module
from tune_asr.data.cache import CACHE_DIR_ENV, cache_root, ensure_cache
from tune_asr.data.corpus import check_corpus, load_corpus

CONFIG = TrainConfig(max_seconds=5.0)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_nsml(tmp_path / "data", [SENTENCES[i % len(SENTENCES)] for i in range(24)])


def file_samples(data: Path, name: str) -> np.ndarray:
    return np.fromfile(data / "train" / "train_data" / name, dtype="<i2")


def test_samples_are_read_only_views_of_one_mapped_file(data: Path) -> None:
    corpus = load_corpus(data, CONFIG)
    utterances = corpus.train + corpus.val
    assert all(np.array_equal(u.samples, file_samples(data, u.name)) for u in utterances)
    assert not any(u.samples.flags.writeable or u.samples.flags.owndata for u in utterances)
    first, second = utterances[0].samples, utterances[1].samples
    assert first.base is second.base  # one buffer: the mapped audio.i16


def test_second_load_maps_the_cache_without_decoding(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info = ensure_cache(data, CONFIG)
    assert info.built and info.reason == "no cache yet" and info.utterances == 24

    def no_decoding(path: Path) -> np.ndarray:
        raise AssertionError(f"decoded {path.name}")

    monkeypatch.setattr(cache_module, "probe", no_decoding)
    again = ensure_cache(data, replace(CONFIG, min_seconds=0.5, unit="grapheme", seed=7))  # load-time filters only
    assert not again.built and again.path == info.path
    assert "up to date" in load_corpus(data, CONFIG).report.summary()


def test_a_changed_source_is_rebuilt_and_the_report_says_which(data: Path) -> None:
    old = ensure_cache(data, CONFIG)
    changed = data / "train" / "train_data" / "idx_000003"
    np.full(8000, 7, dtype="<i2").tofile(changed)
    os.utime(changed, ns=(1, 1))  # a distinct mtime even on coarse-grained file systems
    (data / "train" / "train_data" / "idx_000005").unlink()
    new = ensure_cache(data, CONFIG)
    assert new.built and new.path != old.path and not old.path.exists()
    assert new.reason == "source files 1 changed (train/train_data/idx_000003); 1 removed (train/train_data/idx_000005)"
    corpus = load_corpus(data, CONFIG)
    samples = {u.name: u.samples for u in corpus.train + corpus.val}
    assert np.array_equal(samples["idx_000003"], np.full(8000, 7, dtype="<i2"))


def test_a_failed_build_leaves_no_cache_that_a_load_would_use(data: Path) -> None:
    decoded = []

    def dies_midway(path: Path) -> np.ndarray:
        decoded.append(path)
        if len(decoded) == 10:
            raise KeyboardInterrupt  # a killed build
        return np.fromfile(path, dtype="<i2")

    with pytest.raises(KeyboardInterrupt):
        ensure_cache(data, CONFIG, decode=dies_midway)
    root = cache_root(data)
    assert not list(root.glob("*/manifest.json"))
    info = ensure_cache(data, CONFIG)
    assert info.built and info.utterances == 24
    assert [path.name for path in root.iterdir() if path.is_dir()] == [info.path.name]  # the dead build's folder is gone


def test_longer_files_wait_undecoded_until_a_config_wants_them(data: Path) -> None:
    long_file = data / "train" / "train_data" / "idx_000002"
    np.zeros(16000 * 8, dtype="<i2").tofile(long_file)
    short = ensure_cache(data, CONFIG)
    assert short.seconds < 24 * 0.6  # the 8 s file is not in the audio
    assert dict(load_corpus(data, CONFIG).report.problems)["idx_000002"] == "too long: 8.0 s > max_seconds=5.0"
    wider = ensure_cache(data, replace(CONFIG, max_seconds=10.0))
    assert wider.built and wider.reason == "max_seconds=10.0 takes 1 files that the cache left undecoded (longer than 5.0 s)"
    assert not ensure_cache(data, CONFIG).built  # a narrower config uses the wider cache


def test_parallel_build_matches_the_in_process_one(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    serial = load_corpus(data, CONFIG)
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "elsewhere"))
    monkeypatch.setattr(cache_module, "PARALLEL_FROM", 4)  # 24 files: a pool of worker processes
    parallel = load_corpus(data, CONFIG)
    assert cache_root(data).is_relative_to(tmp_path / "elsewhere")
    pairs = zip(serial.train + serial.val, parallel.train + parallel.val)
    assert all(a.name == b.name and np.array_equal(a.samples, b.samples) for a, b in pairs)


def test_cache_goes_beside_the_data_else_to_the_user_cache(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cache_root(data) == data.resolve() / ".tune_asr_cache"
    monkeypatch.setattr(cache_module.os, "access", lambda path, mode: False)  # read-only data, as on NSML
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    assert cache_root(data).parent == tmp_path / "user-cache" / "tune_asr" / "corpora"


def test_report_tells_how_many_files_were_resampled(data: Path) -> None:
    import wave

    with wave.open(str(data / "train" / "train_data" / "idx_000000"), "wb") as handle:
        handle.setnchannels(2)
        handle.setsampwidth(2)
        handle.setframerate(44_100)
        handle.writeframes(np.zeros((44_100, 2), dtype="<i2").tobytes())
    corpus = load_corpus(data, CONFIG)
    assert "(23 PCM, 1 WAV; 1 resampled or mixed down to 16 kHz mono)" in corpus.report.summary()
    kept = {u.name: u for u in corpus.train + corpus.val}
    assert len(kept["idx_000000"].samples) == 16000
    assert sorted(check_corpus(data, CONFIG).problems) == sorted(corpus.report.problems)


def test_manifest_names_the_data_it_was_built_from(data: Path) -> None:
    info = ensure_cache(data, CONFIG)
    manifest = json.loads((info.path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["data"] == str(data.resolve()) and manifest["layout"] == "nsml"


def test_a_trial_maps_the_drivers_verified_cache_without_listing_the_sources(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    np.zeros(16000 * 8, dtype="<i2").tofile(data / "train" / "train_data" / "idx_000002")  # left undecoded by CONFIG
    verified = ensure_cache(data, CONFIG).path
    expected = load_corpus(data, CONFIG)

    def no_listing(*args, **kwargs):
        raise AssertionError("the sources were listed again")

    monkeypatch.setattr(cache_module, "detect_layout", no_listing)
    corpus = load_corpus(data, CONFIG, verified_cache=verified)
    assert [(u.name, u.text) for u in corpus.train + corpus.val] == [(u.name, u.text) for u in expected.train + expected.val]
    assert f"corpus cache {verified}: up to date when the search started" in corpus.report.summary()
    with pytest.raises(AssertionError, match="listed again"):  # a config wanting the undecoded file checks the sources
        load_corpus(data, replace(CONFIG, max_seconds=10.0), verified_cache=verified)
    shutil.rmtree(verified)
    with pytest.raises(AssertionError, match="listed again"):  # so does a trial whose verified cache is gone
        load_corpus(data, CONFIG, verified_cache=verified)
