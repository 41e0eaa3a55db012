"""The corpus cache at scale (issue 15.3): build time, the data part of start-up, memory with trials sharing, batch throughput.

A synthetic NSML corpus of ``--hours`` is made once in ``--work`` (noise utterances of 2–8 s; a few
hundred distinct files, the rest hard links to them, so the source costs little disk while the cache
holds every utterance). Then, each in fresh processes as trials would be:

1. cache build: ``ensure_cache`` from scratch, all cores;
2. the data part of start-up: ``load_corpus`` in a fresh process, cold (the cache's files evicted
   from the page cache with posix_fadvise) and warm, and warm as a search's trial (given the cache
   its driver verified, so no source file is listed);
3. memory: ``--processes`` processes load the corpus at once and each reads every utterance (as an
   epoch does); each reports RSS, PSS, USS and anonymous memory from /proc/self/smaps_rollup;
4. throughput (per CPU second): one epoch of ``Trainer.batches`` + ``pad_audio`` over ``--throughput-hours`` of
   utterances, from the mapped cache and from in-memory copies (today's path), alternated after a
   first epoch of each (reported apart: the mapped one pays the page faults of first touch).

Usage: python benchmarks/corpus_cache/run.py [--hours 100] [--processes 4] [--smoke] [--json FILE] [--startup-only]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from tune_asr.config import TrainConfig
from tune_asr.data.audio import SAMPLE_RATE
from tune_asr.data.cache import ensure_cache
from tune_asr.data.grammar import sample_sentence

CONFIG = TrainConfig(unit="grapheme", max_seconds=30.0, n_mels=40, conv_channels=4, rnn_layers=1, rnn_hidden=32, batch_size=32)
DISTINCT_FILES = 256
GiB = 1 << 30


def make_corpus(root: Path, hours: float, seed: int = 0) -> tuple[int, float]:
    """An NSML folder of ``hours`` of 2–8 s noise utterances (made once; reused when the same size exists)."""
    marker = root / "hours.txt"
    if marker.exists() and marker.read_text() == str(hours):
        return sum(1 for _ in (root / "train" / "train_data").iterdir()), hours
    shutil.rmtree(root, ignore_errors=True)
    audio = root / "train" / "train_data"
    audio.mkdir(parents=True)
    rng, np_rng = random.Random(seed), np.random.default_rng(seed)
    bases = []
    for i in range(DISTINCT_FILES):
        path = root / "distinct" / f"base_{i:04d}"
        path.parent.mkdir(exist_ok=True)
        (np_rng.standard_normal(int(rng.uniform(2.0, 8.0) * SAMPLE_RATE)) * 2000).astype("<i2").tofile(path)
        bases.append(path)
    total, count = 0.0, 0
    with open(root / "train" / "train_label", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["filename", "text"])
        while total < hours * 3600:
            base = bases[count % DISTINCT_FILES]
            os.link(base, audio / f"idx_{count:07d}")
            writer.writerow([f"idx_{count:07d}", sample_sentence(rng)])
            total += base.stat().st_size / 2 / SAMPLE_RATE
            count += 1
    marker.write_text(str(hours))
    return count, total / 3600


def evict(path: Path) -> None:
    """Drop a cache's files from the page cache (no root needed): the next read comes from disk."""
    for file in path.iterdir():
        with open(file, "rb") as handle:
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def timed_load(data: Path, verified: Path | None = None) -> dict:
    """In a fresh interpreter: import time, then load_corpus's time (the data part of a trial's start-up);
    with ``verified``, as a search's trial loads it: given the cache its driver found up to date."""
    code = (
        "import json, sys, time; from pathlib import Path; t0 = time.perf_counter()\n"
        "from tune_asr.data.corpus import load_corpus\nfrom tune_asr.config import TrainConfig\n"
        "t1, c1 = time.perf_counter(), time.process_time()\n"
        "corpus = load_corpus(sys.argv[1], TrainConfig.from_dict(json.loads(sys.argv[2])),\n"
        "                     verified_cache=Path(sys.argv[3]) if len(sys.argv) > 3 else None)\n"
        "t2, c2 = time.perf_counter(), time.process_time()\n"
        "print(json.dumps({'import_s': t1 - t0, 'load_s': t2 - t1, 'load_cpu_s': c2 - c1, 'utterances': len(corpus.train) + len(corpus.val)}))\n"
    )
    command = [sys.executable, "-c", code, str(data), json.dumps(CONFIG.to_dict()), *([str(verified)] if verified else [])]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def smaps_rollup() -> dict[str, float]:
    """This process's memory in GiB: RSS, PSS (shared pages divided among sharers), USS (private) and anonymous."""
    fields = {}
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":")
        fields[key] = int(value.split()[0]) * 1024 / GiB
    return {"rss": fields["Rss"], "pss": fields["Pss"], "uss": fields["Private_Clean"] + fields["Private_Dirty"],
            "anonymous": fields["Anonymous"]}


def sharing_trial(data: str, barrier, results) -> None:
    """One 'trial': load the corpus, read every utterance once (an epoch's worth), wait for the others, report memory."""
    from tune_asr.data.corpus import load_corpus

    started = time.perf_counter()
    corpus = load_corpus(data, CONFIG)
    load_s = time.perf_counter() - started
    checksum = sum(int(u.samples[:: 4096].sum(dtype=np.int64)) for u in corpus.train + corpus.val)  # touches every page
    barrier.wait()  # all processes hold the corpus now
    results.put({"pid": os.getpid(), "load_s": load_s, "checksum": checksum, **smaps_rollup()})
    barrier.wait()


def memory_with_sharing(data: Path, processes: int) -> list[dict]:
    context = get_context("spawn")
    barrier, results = context.Barrier(processes), context.Queue()
    workers = [context.Process(target=sharing_trial, args=(str(data), barrier, results)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    found = [results.get(timeout=3600) for _ in workers]
    for worker in workers:
        worker.join()
    return found


def epoch_seconds(trainer, utterances) -> tuple[float, int]:
    """CPU seconds (user + system, page faults included) of one epoch's batches, steadier than wall time on a
    shared machine, and the major page faults meanwhile (pages read back from disk: the corpus did not stay cached)."""
    from tune_asr.data.batching import pad_audio
    from tune_asr.training import PAD_TO_SAMPLES

    faults, started = resource.getrusage(resource.RUSAGE_SELF).ru_majflt, time.process_time()
    for batch in trainer.batches(utterances, epoch=1, shuffle=True):
        pad_audio([u.samples for u in batch], multiple=PAD_TO_SAMPLES)
    return time.process_time() - started, resource.getrusage(resource.RUSAGE_SELF).ru_majflt - faults


def throughput(data: Path, hours: float, repeats: int) -> dict:
    """Seconds of audio batched per CPU second, mapped vs in-memory copies of the same utterances."""
    import torch

    from tune_asr.data.corpus import Corpus, Utterance, load_corpus
    from tune_asr.training import Trainer

    corpus = load_corpus(data, CONFIG)
    rng = random.Random(0)
    mapped = rng.sample(corpus.train, len(corpus.train))
    budget, chosen = hours * 3600 * SAMPLE_RATE, []
    for utterance in mapped:
        if budget <= 0:
            break
        chosen.append(utterance)
        budget -= len(utterance.samples)
    copies = [Utterance(u.name, np.array(u.samples), u.text) for u in chosen]
    trainer = Trainer(CONFIG, Corpus(chosen, corpus.val[:2], corpus.vocab, corpus.report), torch.device("cpu"))
    audio_seconds = sum(len(u.samples) for u in chosen) / SAMPLE_RATE
    variants = {"mapped": chosen, "in_memory": copies}
    first = {name: epoch_seconds(trainer, utterances)[0] for name, utterances in variants.items()}  # mapped: first-touch faults
    runs = {name: [] for name in variants}
    major_faults = {name: 0 for name in variants}
    for _ in range(repeats):
        for name, utterances in variants.items():
            seconds, faults = epoch_seconds(trainer, utterances)
            runs[name].append(seconds)
            major_faults[name] += faults
    speeds = {name: audio_seconds / statistics.median(seconds) for name, seconds in runs.items()}
    return {"audio_hours": audio_seconds / 3600, "repeats": repeats, "first_epoch_s": first, "runs_s": runs, "major_faults": major_faults,
            "audio_s_per_s": speeds, "mapped_vs_in_memory": speeds["mapped"] / speeds["in_memory"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=100.0)
    parser.add_argument("--processes", type=int, default=4, help="trials sharing the cache at once")
    parser.add_argument("--throughput-hours", type=float, default=5.0, help="audio batched per throughput epoch")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("/tmp/corpus_cache_bench"))
    parser.add_argument("--smoke", action="store_true", help="a few seconds: 0.05 h, 2 processes, 1 repeat")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--startup-only", action="store_true",
                        help="keep an up-to-date cache (no build timed) and time only the data part of start-up")
    args = parser.parse_args()
    if args.smoke:
        args.hours, args.processes, args.throughput_hours, args.repeats = 0.05, 2, 0.02, 1
        args.work = args.work.with_name(args.work.name + "_smoke")
    data = args.work / "data"
    files, hours = make_corpus(data, args.hours)
    print(f"corpus: {files} files, {hours:.2f} h in {data}; {os.cpu_count()} CPUs, {platform.platform()}", flush=True)

    if not args.startup_only:
        shutil.rmtree(data / ".tune_asr_cache", ignore_errors=True)
    info = ensure_cache(data, CONFIG, progress=not args.smoke)
    print(info.summary(), flush=True)
    evict(info.path)
    cold = timed_load(data)
    warm = [timed_load(data) for _ in range(3)]
    print(f"data part of start-up (load_corpus): cold {cold['load_s']:.2f} s (CPU {cold['load_cpu_s']:.2f} s), warm "
          f"{statistics.median(w['load_s'] for w in warm):.2f} s (CPU {statistics.median(w['load_cpu_s'] for w in warm):.2f} s); "
          f"imports {cold['import_s']:.2f} s, not counted", flush=True)
    verified = [timed_load(data, info.path) for _ in range(3)]
    print(f"data part of a search trial's start-up (given the driver's verified cache), warm: "
          f"{statistics.median(v['load_s'] for v in verified):.2f} s (CPU {statistics.median(v['load_cpu_s'] for v in verified):.2f} s)",
          flush=True)
    if args.startup_only:
        return
    memory = memory_with_sharing(data, args.processes)
    for row in memory:
        print(f"trial {row['pid']}: load {row['load_s']:.2f} s, RSS {row['rss']:.2f} GiB, PSS {row['pss']:.2f} GiB, "
              f"USS {row['uss']:.2f} GiB, anonymous {row['anonymous']:.2f} GiB", flush=True)
    speed = throughput(data, min(args.throughput_hours, hours), args.repeats)
    print(f"throughput over {speed['audio_hours']:.2f} h, audio s per CPU s: mapped {speed['audio_s_per_s']['mapped']:.0f}, in memory "
          f"{speed['audio_s_per_s']['in_memory']:.0f} ({(speed['mapped_vs_in_memory'] - 1) * 100:+.1f}%); first epoch "
          f"mapped {speed['first_epoch_s']['mapped']:.2f} s, in memory {speed['first_epoch_s']['in_memory']:.2f} s; major page faults "
          f"in the timed epochs: mapped {speed['major_faults']['mapped']}, in memory {speed['major_faults']['in_memory']}", flush=True)
    results = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": platform.platform(), "cpus": os.cpu_count(),
               "files": files, "hours": hours, "cache_bytes": sum(f.stat().st_size for f in info.path.iterdir()),
               "build_s": info.build_seconds, "cold": cold, "warm": warm, "warm_verified": verified, "memory": memory, "throughput": speed,
               "command": " ".join(sys.argv)}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
