"""What a trial's model will cost the exported package at inference: real-time factor, parameters, size.

An NSML submission must transcribe the hidden test set within a time limit, so a search that weighs CER
against speed needs the speed of every trial. It is measured in the trial, on the trial's own device,
right after a validation, through the package's own inference path (:func:`tune_asr.transcribe.transcribe`:
fp32, greedy decoding, batches of similar lengths, cuDNN without autotuning as the package's main.py
runs it), on a fixed sample of the validation utterances. Once per run: the real-time factor depends on
the architecture and the lengths, not on the weights, so later epochs report the same figure.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch.utils.serialization import config as serialization_config

from tune_asr.data.corpus import Utterance
from tune_asr.data.vocab import Vocabulary
from tune_asr.features import LogMelFeatures
from tune_asr.model import DeepSpeech2
from tune_asr.transcribe import transcribe

SAMPLE_UTTERANCES = 8  # validation utterances timed (the first by name): with TIMED_PASSES, the cost (BENCHMARKS.md)
TIMED_PASSES = 3  # the fastest pass counts: another process's burst slows one pass, not all three
WARM_UP_UTTERANCES = 2  # transcribed first, untimed: first kernel launches and allocations


@dataclass(frozen=True)
class InferenceCost:
    rtf: float  # seconds of compute per second of audio: below 1 is faster than real time
    params: int  # the model's parameters
    model_mb: float  # its weights file as the package stores it (torch.save of the state dict), in MB
    seconds: float  # what measuring took, warm-up included (the benchmark compares it with an epoch)
    sample_utterances: int
    sample_audio_s: float


def weights_megabytes(model: torch.nn.Module) -> float:
    """Size of ``torch.save(model.state_dict())``, the package's weights file, counted as it is written
    and never kept: serialising a large model into memory took seconds, counting takes milliseconds."""
    sink = _ByteCounter()
    checksums = serialization_config.save.compute_crc32
    serialization_config.save.compute_crc32 = False  # the checksum's field has the same size either way
    try:
        torch.save(model.state_dict(), sink)
    finally:
        serialization_config.save.compute_crc32 = checksums
    return sink.count / 1e6


class _ByteCounter(io.RawIOBase):
    """A write-only file that keeps only how many bytes it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        size = memoryview(data).nbytes
        self.count += size
        return size


def measure_inference_cost(model: DeepSpeech2, features: LogMelFeatures, vocab: Vocabulary,
                           utterances: Sequence[Utterance], device: torch.device) -> InferenceCost:
    """Time the package's inference on the first :data:`SAMPLE_UTTERANCES` of ``utterances`` by name, the
    fastest of :data:`TIMED_PASSES` passes."""
    start = time.perf_counter()
    chosen = sorted(utterances, key=lambda u: u.name)[:SAMPLE_UTTERANCES]
    audio = [u.samples for u in chosen]
    audio_seconds = sum(u.seconds for u in chosen)
    with _without_cudnn_autotuning():
        transcribe(model, features, vocab, device, audio[:WARM_UP_UTTERANCES])
        timed = min(_timed_pass(model, features, vocab, device, audio) for _ in range(TIMED_PASSES))
    return InferenceCost(
        rtf=timed / max(audio_seconds, 1e-9), params=sum(p.numel() for p in model.parameters()),
        model_mb=weights_megabytes(model), seconds=time.perf_counter() - start,
        sample_utterances=len(chosen), sample_audio_s=audio_seconds,
    )


def _timed_pass(model: DeepSpeech2, features: LogMelFeatures, vocab: Vocabulary, device: torch.device,
                audio: Sequence) -> float:
    _synchronize(device)
    start = time.perf_counter()
    transcribe(model, features, vocab, device, audio)
    _synchronize(device)
    return time.perf_counter() - start


@contextmanager
def _without_cudnn_autotuning() -> Iterator[None]:
    """The package leaves cuDNN's autotuner off; training turns it on (few padded shapes there)."""
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
