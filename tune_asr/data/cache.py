"""Decode a corpus once into an on-disk cache that every trial memory-maps instead of decoding.

A cache folder holds ``audio.i16`` (every utterance's 16 kHz mono int16 samples, back to back),
``index.npz`` (offsets, lengths and seconds per utterance), ``entries.json`` (names, transcripts, the
problems found while building), ``sources.json`` (the source files it was built from) and
``manifest.json`` (written last). Mapped pages are shared by the OS between all processes on a
node, so a trial's resident memory does not grow with the corpus.

The folder is named by a fingerprint of the source files (paths, sizes, mtimes), the layout and
the cache format; a change of any of them makes a new cache, and the report says what changed. It
does not depend on min_seconds, the vocabulary or text normalisation: those filter at load time.
Files longer than the building config's ``max_seconds`` are not decoded (an hour-long file would
cost 115 MB for nothing); a later config that wants them rebuilds. A cache is built under a lock,
into a temporary folder renamed when complete, so a half-built cache is never used.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import mmap
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from tqdm import tqdm

from tune_asr.config import TrainConfig
from tune_asr.data.audio import SAMPLE_RATE, AudioError, probe, read_pcm
from tune_asr.data.layouts import detect_layout
from tune_asr.data.listing import Entry, Layout, SourceFile

CACHE_VERSION = 1
CACHE_DIR_ENV = "TUNE_ASR_CACHE_DIR"  # where caches go instead of beside the data
BESIDE_DATA = ".tune_asr_cache"
PARALLEL_FROM = 256  # files; fewer are decoded in this process (a worker pool's start-up costs more)
IN_FLIGHT = 1024  # files handed to the pool at a time: decoded audio waiting to be written stays bounded
NOT_DECODED = -1  # offset and length of a file longer than the cache's max_seconds
Decoder = Callable[[Path], np.ndarray]


@dataclass(frozen=True)
class CacheInfo:
    """Where a corpus's cache is and whether this call built it (and why) or found it up to date."""

    path: Path
    built: bool
    reason: str
    utterances: int
    seconds: float  # decoded audio
    formats: dict[str, int]  # files per container format
    converted: int  # files resampled or mixed down to 16 kHz mono
    build_seconds: float

    def summary(self) -> str:
        formats = ", ".join(f"{count} {name.upper()}" for name, count in sorted(self.formats.items()))
        action = f"built in {self.build_seconds:.1f} s ({self.reason})" if self.built else "up to date"
        return (f"corpus cache {self.path}: {action}; {self.utterances} utterances, {self.seconds / 3600:.2f} h "
                f"({formats}; {self.converted} resampled or mixed down to {SAMPLE_RATE // 1000} kHz mono)")


@dataclass(frozen=True)
class CachedCorpus:
    """A cache opened for reading: utterance ``i``'s samples are ``audio[offsets[i] : offsets[i] + lengths[i]]``,
    a read-only view into the mapped file."""

    names: list[str]
    texts: list[str]
    seconds: np.ndarray
    offsets: np.ndarray
    lengths: np.ndarray
    audio: np.ndarray
    problems: list[tuple[str, str]]
    labelled: int


@dataclass(frozen=True)
class Decoded:
    seconds: float = 0.0
    format: str = ""
    converted: bool = False
    samples: np.ndarray | None = None  # None: longer than the cache's max_seconds, or unreadable
    error: str = ""


def cache_root(data_dir: Path) -> Path:
    """``$TUNE_ASR_CACHE_DIR/<data folder key>``, else beside the data when writable, else the user's cache folder."""
    data_dir = Path(data_dir).resolve()
    key = f"{data_dir.name}-{hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]}"
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override) / key
    beside = data_dir / BESIDE_DATA
    if os.access(beside if beside.is_dir() else data_dir, os.W_OK):
        return beside
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tune_asr" / "corpora" / key


def fingerprint(layout: Layout, sources: list[SourceFile]) -> str:
    lines = [f"{CACHE_VERSION} {SAMPLE_RATE} {layout.name}"]
    lines += [f"{source.path}\0{source.size}\0{source.mtime_ns}\0{source.kind}" for source in sources]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:24]


def ensure_cache(data_dir: Path | str, config: TrainConfig, progress: bool = False, decode: Decoder = read_pcm) -> CacheInfo:
    """Find the corpus's up-to-date cache or build it; a search driver calls this once, before its trials.

    ``decode`` reads one file (``load_corpus`` passes its own reader, so that the data checks can
    watch what is decoded).
    """
    with _ensured(Path(data_dir), config, progress, decode) as info:
        return info


def load_cache(data_dir: Path | str, config: TrainConfig, decode: Decoder = read_pcm) -> tuple[CacheInfo, CachedCorpus]:
    """:func:`ensure_cache`, then map the cache while still holding the lock, before another process may replace it."""
    with _ensured(Path(data_dir), config, False, decode) as info:
        return info, open_cache(info.path)


@contextmanager
def _ensured(data_dir: Path, config: TrainConfig, progress: bool, decode: Decoder) -> Iterator[CacheInfo]:
    """The up-to-date cache, built if need be, held under the lock until the caller is done with it."""
    layout = detect_layout(data_dir)
    sources = layout.sources()
    digest = fingerprint(layout, sources)
    root = cache_root(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root / ".lock"):
        current = _latest(root, digest)
        wanted = _undecoded_within(current, config.max_seconds) if current else 0
        if current and not wanted:
            info = _info(current, built=False, reason="up to date")
        else:
            if current:
                reason = (f"max_seconds={config.max_seconds} takes {wanted} files that the cache left undecoded "
                          f"(longer than {_manifest(current)['max_seconds']} s)")
            else:
                reason = _why_new(root, sources)
            started = time.perf_counter()
            current = _build(layout, sources, root, digest, config.max_seconds, decode, progress)
            _remove_others(root, keep=current)
            info = _info(current, built=True, reason=reason, build_seconds=time.perf_counter() - started)
        yield info


def open_verified(path: Path, config: TrainConfig) -> CachedCorpus | None:
    """Map the cache a search driver found up to date (:func:`ensure_cache`) without checking every
    source file again, which at KsponSpeech's 620,000 files would cost each trial seconds; None when
    it is gone (rebuilt since, or not on this node) or leaves files ``config`` wants undecoded."""
    try:
        if _undecoded_within(path, config.max_seconds):
            return None
        return open_cache(path)
    except OSError:
        return None


def open_cache(path: Path) -> CachedCorpus:
    """Map a cache built by :func:`ensure_cache` (its transcripts and index are read; its audio only mapped)."""
    index = np.load(path / "index.npz")
    entries = json.loads((path / "entries.json").read_text(encoding="utf-8"))
    return CachedCorpus(entries["names"], entries["texts"], index["seconds"], index["offsets"], index["lengths"],
                        _map_int16(path / "audio.i16"), [tuple(problem) for problem in entries["problems"]], entries["labelled"])


def _map_int16(path: Path) -> np.ndarray:
    """The whole file as a read-only int16 array backed by the page cache (shared between processes)."""
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return np.zeros(0, dtype="<i2")
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    return np.frombuffer(mapped, dtype="<i2")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One builder per cache folder; others wait here and then find the finished cache."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _latest(root: Path, digest: str) -> Path | None:
    """The newest complete cache of these sources (a folder is complete once its manifest exists)."""
    complete = sorted(path for path in root.glob(f"{digest}-*") if (path / "manifest.json").is_file())
    return complete[-1] if complete else None


def _manifest(path: Path) -> dict:
    return json.loads((path / "manifest.json").read_text(encoding="utf-8"))


def _undecoded_within(path: Path, max_seconds: float) -> int:
    index = np.load(path / "index.npz")
    return int(np.count_nonzero((index["lengths"] == NOT_DECODED) & (index["seconds"] <= max_seconds)))


def _info(path: Path, *, built: bool, reason: str, build_seconds: float = 0.0) -> CacheInfo:
    manifest = _manifest(path)
    return CacheInfo(path, built, reason, manifest["utterances"], manifest["seconds"], manifest["formats"],
                     manifest["converted"], build_seconds)


def _why_new(root: Path, sources: list[SourceFile]) -> str:
    """What changed since the previous cache of this data folder, in a line."""
    previous = sorted(root.glob("*-*/sources.json"), key=lambda path: path.stat().st_mtime)
    if not previous:
        return "no cache yet"
    old = {row[0]: tuple(row[1:]) for row in json.loads(previous[-1].read_text(encoding="utf-8"))}
    new = {source.path: (source.size, source.mtime_ns, source.kind) for source in sources}
    changed = sorted(path for path in old.keys() & new.keys() if old[path] != new[path])
    added, removed = sorted(new.keys() - old.keys()), sorted(old.keys() - new.keys())
    if not (changed or added or removed):
        return f"the cache format or layout changed (now version {CACHE_VERSION})"
    parts = [f"{len(paths)} {what} ({', '.join(paths[:3])}{', …' if len(paths) > 3 else ''})"
             for what, paths in (("changed", changed), ("added", added), ("removed", removed)) if paths]
    return "source files " + "; ".join(parts)


def _decode(path: Path, max_seconds: float, decode: Decoder) -> Decoded:
    """One file: its length from the header; its samples when it is not longer than ``max_seconds``."""
    try:
        info = probe(path)
        if info.seconds > max_seconds:
            return Decoded(info.seconds, info.format, info.converted)
        samples = decode(path)
    except (AudioError, OSError) as error:  # OSError: a file the system refuses to read
        return Decoded(error=str(error))
    return Decoded(len(samples) / SAMPLE_RATE, info.format, info.converted, samples)


def _decoded(entries: list[Entry], max_seconds: float, decode: Decoder) -> Iterator[Decoded]:
    """Every entry decoded in order: in worker processes for large corpora, here for small ones."""
    work = partial(_decode, max_seconds=max_seconds, decode=decode)
    paths = [entry.path for entry in entries]
    workers = min(len(os.sched_getaffinity(0)), max(1, len(paths) // PARALLEL_FROM))
    if workers == 1:
        yield from map(work, paths)
        return
    # spawn, not fork: the caller may be a threaded process (a Ray driver or worker)
    with get_context("spawn").Pool(workers) as pool:
        for start in range(0, len(paths), IN_FLIGHT):
            yield from pool.imap(work, paths[start : start + IN_FLIGHT], chunksize=16)


def _build(layout: Layout, sources: list[SourceFile], root: Path, digest: str, max_seconds: float,
           decode: Decoder, progress: bool) -> Path:
    """Decode every listed file into a temporary folder, then rename it into place."""
    listing = layout.listing()
    building = root / f".building-{digest}-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir()
    names, texts, seconds, offsets, lengths = [], [], [], [], []
    problems, formats, converted, offset = list(listing.problems), Counter(), 0, 0
    with open(building / "audio.i16", "wb") as audio:
        bar = tqdm(total=len(listing.entries), unit="file", desc=f"caching {layout.root.name}", disable=not progress)
        for entry, decoded in zip(listing.entries, _decoded(listing.entries, max_seconds, decode)):
            bar.update()
            if decoded.error:
                problems.append((entry.name, f"bad audio: {decoded.error}"))
                continue
            names.append(entry.name)
            texts.append(entry.text)
            seconds.append(decoded.seconds)
            formats[decoded.format] += 1
            converted += decoded.converted
            if decoded.samples is None:
                offsets.append(NOT_DECODED)
                lengths.append(NOT_DECODED)
            else:
                audio.write(np.ascontiguousarray(decoded.samples, dtype="<i2").tobytes())
                offsets.append(offset)
                lengths.append(len(decoded.samples))
                offset += len(decoded.samples)
        bar.close()
    np.savez(building / "index.npz", offsets=np.array(offsets, dtype=np.int64), lengths=np.array(lengths, dtype=np.int64),
             seconds=np.array(seconds, dtype=np.float64))
    _write_json(building / "entries.json", {"names": names, "texts": texts, "problems": problems, "labelled": listing.labelled})
    _write_json(building / "sources.json", [[s.path, s.size, s.mtime_ns, s.kind] for s in sources])
    _write_json(building / "manifest.json", {
        "version": CACHE_VERSION, "layout": layout.name, "data": str(layout.root.resolve()), "max_seconds": max_seconds,
        "utterances": len(names), "seconds": offset / SAMPLE_RATE, "formats": dict(formats), "converted": converted,
    })
    final = root / f"{digest}-{time.time_ns()}"
    os.rename(building, final)
    return final


def _write_json(path: Path, value: object) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")


def _remove_others(root: Path, keep: Path) -> None:
    """Older caches of this data folder, and folders of builds that died (called under the lock, so none is running).

    A process still mapping an older cache keeps its pages until it exits.
    """
    for path in root.iterdir():
        if path != keep and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
