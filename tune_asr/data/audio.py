"""Audio files by content: headerless PCM (NSML's, 16 kHz mono s16le), WAV and FLAC, all read as 16 kHz mono int16.

The format comes from the first bytes, never the name: NSML files have no extension, and the 2023
competition's files carry WAV headers that would otherwise be read as audio. :func:`probe` reads
only a header (or the size, for PCM), so that checking a corpus stays cheap; :func:`read_pcm`
decodes. WAV is parsed here (the header is a few fixed fields; Python 3.11's ``wave`` refuses float
and WAVE_FORMAT_EXTENSIBLE files, and an exported package cannot count on scipy). FLAC needs a real
codec: libsndfile through the ``soundfile`` package, imported only when a FLAC file is met.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

SAMPLE_RATE = 16_000
BYTES_PER_SAMPLE = 2
INT16_SCALE = 32768.0

Format = Literal["pcm", "wav", "flac"]
WAV_PCM, WAV_FLOAT, WAV_EXTENSIBLE = 0x0001, 0x0003, 0xFFFE
WAV_ENCODINGS = {(WAV_PCM, 8): "u8", (WAV_PCM, 16): "s16", (WAV_PCM, 24): "s24", (WAV_PCM, 32): "s32",
                 (WAV_FLOAT, 32): "f32", (WAV_FLOAT, 64): "f64"}
STREAMED_SIZE = 0xFFFFFFFF  # a data chunk written before its length was known (pipes, streaming)


class AudioError(ValueError):
    """A file that cannot be used as audio; the message says why."""


@dataclass(frozen=True)
class AudioInfo:
    """What a header says: enough to know a file's length and whether it needs converting."""

    format: Format
    encoding: str  # s16 (PCM and 16-bit WAV), u8, s24, s32, f32, f64 (WAV), or FLAC's subtype
    sample_rate: int
    channels: int
    frames: int
    data_offset: int = 0  # PCM and WAV: where the samples start
    data_bytes: int = 0

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate

    @property
    def converted(self) -> bool:
        """True when reading resamples or mixes down (the data report counts these)."""
        return self.sample_rate != SAMPLE_RATE or self.channels != 1


def pcm_seconds(size: int) -> float:
    """Duration of a headerless PCM file of ``size`` bytes; raises for sizes PCM cannot have."""
    if size == 0:
        raise AudioError("empty file")
    if size % BYTES_PER_SAMPLE:
        raise AudioError(f"odd byte length ({size} bytes): not 16-bit PCM")
    return size / BYTES_PER_SAMPLE / SAMPLE_RATE


def probe(path: Path) -> AudioInfo:
    """The file's format and length from its first bytes and header, without decoding any audio."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(12)
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            return _wav_header(handle, size)
    if head[:4] == b"fLaC":
        return _flac_header(path)
    pcm_seconds(size)
    return AudioInfo("pcm", "s16", SAMPLE_RATE, 1, size // BYTES_PER_SAMPLE, 0, size)


def read_pcm(path: Path) -> np.ndarray:
    """Decode any supported file into 16 kHz mono int16 PCM (a quarter of float64's memory)."""
    info = probe(path)
    if info.format == "flac":
        return _read_flac(path, info)
    raw = np.fromfile(path, dtype=np.uint8, count=info.data_bytes, offset=info.data_offset)
    if len(raw) < info.data_bytes:  # the file shrank since probe(); a truncated WAV fails in probe()
        raise AudioError(f"truncated: {len(raw)} of {info.data_bytes} bytes of audio")
    if info.encoding == "s16" and not info.converted:
        return raw.view("<i2")
    return to_16k_mono_int16(_wav_samples(raw, info.encoding, info.channels), info.sample_rate)


def to_16k_mono_int16(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """float samples in [-1, 1] of shape (frames, channels) → 16 kHz mono int16 (channels averaged)."""
    mono = samples.mean(axis=1, dtype=np.float32) if samples.shape[1] > 1 else samples[:, 0].astype(np.float32)
    if sample_rate != SAMPLE_RATE:
        import torch
        import torchaudio.functional  # 2 s to import: only when a file needs resampling

        mono = torchaudio.functional.resample(torch.from_numpy(mono), sample_rate, SAMPLE_RATE).numpy()
    return np.clip(np.rint(mono * INT16_SCALE), -32768, 32767).astype("<i2")


def _wav_header(handle, size: int) -> AudioInfo:
    """Walk the RIFF chunks to ``fmt `` and ``data``; the file is open just past 'RIFF....WAVE'."""
    fmt = None
    position = 12
    while position + 8 <= size:
        handle.seek(position)
        chunk_id, chunk_size = struct.unpack("<4sI", handle.read(8))
        body = position + 8
        if chunk_id == b"fmt ":
            fmt = handle.read(min(chunk_size, 40))
        elif chunk_id == b"data":
            if fmt is None:
                raise AudioError("WAV data chunk before its fmt chunk")
            available = size - body
            if chunk_size == STREAMED_SIZE:
                chunk_size = available
            if chunk_size > available:
                raise AudioError(f"truncated WAV: header promises {chunk_size} bytes of audio, the file holds {available}")
            return _wav_info(fmt, body, chunk_size)
        position = body + chunk_size + (chunk_size & 1)  # chunks are padded to an even length
    raise AudioError("WAV without a data chunk" if fmt else "WAV without a fmt chunk")


def _wav_info(fmt: bytes, data_offset: int, data_bytes: int) -> AudioInfo:
    if len(fmt) < 16:
        raise AudioError(f"WAV fmt chunk too short ({len(fmt)} bytes)")
    tag, channels, rate, _, block_align, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == WAV_EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack("<H", fmt[24:26])[0]  # the sub-format GUID starts with the real tag
    encoding = WAV_ENCODINGS.get((tag, bits))
    if encoding is None:
        raise AudioError(f"unsupported WAV encoding (format tag {tag:#06x}, {bits} bits)")
    if channels < 1 or rate < 1 or block_align != channels * bits // 8:
        raise AudioError(f"inconsistent WAV header ({channels} channels, {rate} Hz, block {block_align} bytes)")
    if data_bytes == 0:
        raise AudioError("empty file (WAV without samples)")
    if data_bytes % block_align:
        raise AudioError(f"truncated WAV: {data_bytes} bytes of audio is not a whole number of {block_align}-byte frames")
    return AudioInfo("wav", encoding, rate, channels, data_bytes // block_align, data_offset, data_bytes)


def _wav_samples(raw: np.ndarray, encoding: str, channels: int) -> np.ndarray:
    """Interleaved WAV bytes → float32 in [-1, 1], shape (frames, channels)."""
    if encoding == "u8":
        values = (raw.astype(np.float32) - 128.0) / 128.0
    elif encoding == "s24":
        triples = raw.reshape(-1, 3).astype(np.int32)
        joined = triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)
        values = (joined - ((joined & 0x800000) << 1)).astype(np.float32) / 8388608.0
    else:
        dtype, scale = {"s16": ("<i2", INT16_SCALE), "s32": ("<i4", 2147483648.0), "f32": ("<f4", 1.0), "f64": ("<f8", 1.0)}[encoding]
        values = raw.view(dtype).astype(np.float32) / np.float32(scale)
    return values.reshape(-1, channels)


def _soundfile():
    try:
        import soundfile
    except ImportError:
        raise AudioError("FLAC needs the soundfile package (pip install soundfile)") from None
    return soundfile


def _flac_header(path: Path) -> AudioInfo:
    """FLAC's STREAMINFO block, read by libsndfile without decoding any frame."""
    soundfile = _soundfile()
    try:
        info = soundfile.info(str(path))
    except RuntimeError as error:  # soundfile.LibsndfileError
        raise AudioError(f"unreadable FLAC: {error}") from None
    if info.frames <= 0:
        raise AudioError("empty file (FLAC without samples)")
    return AudioInfo("flac", info.subtype, info.samplerate, info.channels, info.frames)


def _read_flac(path: Path, info: AudioInfo) -> np.ndarray:
    soundfile = _soundfile()
    try:
        samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except RuntimeError as error:  # soundfile.LibsndfileError: a corrupt frame
        raise AudioError(f"unreadable FLAC: {error}") from None
    if len(samples) < info.frames:
        raise AudioError(f"truncated FLAC: {len(samples)} of {info.frames} samples decoded")
    return to_16k_mono_int16(samples, rate)


def duration_seconds(samples: np.ndarray) -> float:
    return len(samples) / SAMPLE_RATE


def read_audio_folder(folder: Path) -> tuple[list[tuple[str, np.ndarray]], list[tuple[str, str]]]:
    """Read every file of a test folder (for inference); unreadable files come back as problems."""
    readable, problems = [], []
    for path in sorted(p for p in Path(folder).iterdir() if p.is_file()):
        try:
            readable.append((path.name, read_pcm(path)))
        except (AudioError, OSError) as error:  # OSError: a file the system refuses to read
            problems.append((path.name, str(error)))
    return readable, problems
