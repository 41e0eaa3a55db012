"""Training throughput, side by side in one process (issue 5, part 1).

Rows, all on the same demo data, GPU and kospeech-default DeepSpeech2 (80 mels, 3 × BiGRU-1024,
the competition's 2,001-symbol vocabulary):
  seed-loop   the 2022 baseline's way: features per sample on the CPU inside a Dataset (Kaldi fbank,
              povey window, per-sample SpecAugment), DataLoader workers, random order (no length
              buckets), fp32, ``model.to(device)`` and ``torch.cuda.empty_cache()`` every step;
  ours        ``tune_asr.training.Trainer.train_epoch`` (int16 audio in memory, features and
              SpecAugment batched on the GPU, length buckets, bf16 autocast);
  model-alone the same model's forward + CTC + backward + AdamW step on pre-made random features of
              exactly our batches' shapes: the attainable limit with no data pipeline;
and the recurrence's time per step at batch 32, 64, 128 and 256.

Usage: python benchmarks/throughput.py --data DIR --vocab LABELS_CSV [--batch-size 128] [--json OUT] [--profile]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import torch
import torchaudio

from tune_asr.config import TrainConfig
from tune_asr.data.audio import SAMPLE_RATE
from tune_asr.data.batching import padded_length
from tune_asr.data.corpus import Corpus, load_corpus
from tune_asr.model import DeepSpeech2
from tune_asr.training import PAD_TO_SAMPLES, Trainer


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def peak_gib(device: torch.device) -> float:
    return torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def row(name: str, audio_seconds: float, utterances: int, seconds: float, device: torch.device) -> dict:
    return {"loop": name, "audio_s_per_s": audio_seconds / seconds, "utt_per_s": utterances / seconds,
            "seconds": seconds, "peak_gib": peak_gib(device)}


class SeedDataset(torch.utils.data.Dataset):
    """Per-sample CPU features as the baseline computes them."""

    def __init__(self, corpus: Corpus, config: TrainConfig):
        self.items = [(u.samples, corpus.vocab.encode(u.text)) for u in corpus.train]
        self.config = config

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        samples, target = self.items[index]
        waveform = torch.from_numpy(samples).float().unsqueeze(0)
        feats = torchaudio.compliance.kaldi.fbank(waveform, num_mel_bins=self.config.n_mels, frame_length=20,
                                                  frame_shift=10, window_type="povey", sample_frequency=SAMPLE_RATE)
        feats = (feats - feats.mean()) / (feats.std() + 1e-5)
        for _ in range(self.config.freq_mask_count):
            width = random.randint(0, self.config.freq_mask_width)
            start = random.randint(0, feats.size(1) - width)
            feats[:, start : start + width] = 0
        for _ in range(self.config.time_mask_count):
            width = random.randint(0, int(feats.size(0) * self.config.time_mask_fraction))
            start = random.randint(0, max(0, feats.size(0) - width))
            feats[start : start + width] = 0
        return feats, torch.tensor(target)


def seed_collate(items):
    feats, targets = zip(*items)
    lengths = torch.tensor([f.size(0) for f in feats])
    return (torch.nn.utils.rnn.pad_sequence(feats, batch_first=True), lengths,
            torch.cat(targets), torch.tensor([len(t) for t in targets]))


def seed_loop(corpus: Corpus, config: TrainConfig, device: torch.device, workers: int, max_steps: int) -> dict:
    model = DeepSpeech2(config, len(corpus.vocab))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    ctc = torch.nn.CTCLoss(blank=corpus.vocab.blank, zero_infinity=True)
    loader = torch.utils.data.DataLoader(SeedDataset(corpus, config), batch_size=config.batch_size, shuffle=True,
                                         num_workers=workers, collate_fn=seed_collate, drop_last=True)
    reset_peak(device)
    audio = utterances = 0.0
    start = None
    for step, (feats, lengths, targets, target_lengths) in enumerate(loader):
        if step == 2:  # the first batches pay worker start-up and cuDNN autotuning
            synchronize(device)
            start, audio, utterances = time.perf_counter(), 0.0, 0
        if step == max_steps:
            break
        model = model.to(device)
        log_probs, out_lengths = model(feats.to(device), lengths)
        loss = ctc(log_probs.transpose(0, 1), targets.to(device), out_lengths, target_lengths)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        torch.cuda.empty_cache()
        audio += lengths.sum().item() * 0.01
        utterances += len(lengths)
    synchronize(device)
    return row("seed-loop (fp32, per-sample CPU features)", audio, utterances, time.perf_counter() - start, device)


def our_loop(corpus: Corpus, config: TrainConfig, device: torch.device) -> tuple[dict, Trainer]:
    trainer = Trainer(config, corpus, device)
    trainer.train_epoch(epoch=1, progress=False)  # warm-up: cuDNN plans, allocator
    reset_peak(device)
    synchronize(device)
    start = time.perf_counter()
    _, audio, _ = trainer.train_epoch(epoch=2, progress=False)
    synchronize(device)
    return row("ours (tune_asr.training, bf16)", audio, len(corpus.train), time.perf_counter() - start, device), trainer


def profile_steps(trainer: Trainer, steps: int = 8) -> str:
    """Where our step's time goes: torch.profiler over a few training steps, top operators."""
    batches = trainer.batches(trainer.corpus.train, epoch=3, shuffle=True)[:steps]
    activities = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
    with torch.profiler.profile(activities=activities) as profiler:
        for batch in batches:
            trainer.train_step(batch, generator=None)
        synchronize(trainer.device)
    return profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=20)


def model_alone(trainer: Trainer, config: TrainConfig, device: torch.device) -> dict:
    """The same batches' shapes, random features already on the GPU: no data pipeline at all."""
    shapes = []
    for batch in trainer.batches(trainer.corpus.train, epoch=2, shuffle=True):
        samples = torch.tensor([len(u.samples) for u in batch])
        frames = trainer.features.frame_lengths(samples)
        padded_frames = int(trainer.features.frame_lengths(torch.tensor(padded_length(int(samples.max()), PAD_TO_SAMPLES))))
        targets = torch.tensor([len(trainer.targets[u.name]) for u in batch])
        shapes.append((torch.randn(len(batch), padded_frames, config.n_mels, device=device), frames, targets,
                       float(samples.sum()) / SAMPLE_RATE))
    model = trainer.model
    optimizer = trainer.optimizer
    ctc = torch.nn.CTCLoss(blank=trainer.corpus.vocab.blank, zero_infinity=True)
    reset_peak(device)

    def step(feats, frames, target_lengths):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            log_probs, out_lengths = model(feats, frames)
        targets = torch.randint(3, trainer.corpus.vocab.blank, (int(target_lengths.sum()),), device=device)
        loss = ctc(log_probs.transpose(0, 1), targets, out_lengths, target_lengths)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for feats, frames, targets, _ in shapes[:3]:
        step(feats, frames, targets)
    synchronize(device)
    start = time.perf_counter()
    for feats, frames, targets, _ in shapes:
        step(feats, frames, targets)
    synchronize(device)
    audio = sum(s[3] for s in shapes)
    return row("model alone (random features, bf16)", audio, sum(len(s[1]) for s in shapes), time.perf_counter() - start, device)


def recurrence_step_ms(config: TrainConfig, device: torch.device, batch_sizes: list[int], frames: int = 150) -> list[dict]:
    """Forward + backward of the RNN stack alone on ``frames`` frames (3 s of audio after the front-end)."""
    model = DeepSpeech2(config, 2001).to(device)
    rows = []
    for batch in batch_sizes:
        x = torch.randn(batch, frames, model.rnns[0].norm.num_features, device=device, requires_grad=True)
        lengths = torch.full((batch,), frames)

        def run():
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                h = x
                for rnn in model.rnns:
                    h = rnn(h, lengths)
            h.float().sum().backward()

        for _ in range(3):
            run()
        synchronize(device)
        start = time.perf_counter()
        repeats = 10
        for _ in range(repeats):
            run()
        synchronize(device)
        ms = (time.perf_counter() - start) / repeats * 1000
        rows.append({"batch": batch, "ms_per_step": ms, "us_per_frame": ms * 1000 / frames,
                     "audio_s_per_s": batch * frames * 0.02 / (ms / 1000)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=8, help="DataLoader workers of the seed loop")
    parser.add_argument("--seed-steps", type=int, default=20)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--vocab", type=Path, required=True, help="kospeech labels.csv (2,001 outputs), e.g. ../shared/reference/kospeech_labels.csv")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--profile", action="store_true", help="print torch.profiler's top operators of our step")
    args = parser.parse_args()
    torch.backends.cudnn.benchmark = True
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    config = TrainConfig(vocab_path=str(args.vocab), batch_size=args.batch_size, epochs=2).with_overrides(args.overrides)
    corpus = load_corpus(args.data, config)
    print(f"{len(corpus.train)} training utterances, {sum(u.seconds for u in corpus.train) / len(corpus.train):.2f} s mean, "
          f"vocabulary {len(corpus.vocab)}, batch {config.batch_size}, {torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu'}")
    rows = [seed_loop(corpus, config, device, args.workers, args.seed_steps)]
    ours, trainer = our_loop(corpus, config, device)
    rows += [ours, model_alone(trainer, config, device)]
    if args.profile:
        print(profile_steps(trainer))
    del trainer
    print(f"\n| loop | audio-s/s | utt/s | peak GiB | vs seed | vs model alone |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['loop']} | {r['audio_s_per_s']:,.0f} | {r['utt_per_s']:,.1f} | {r['peak_gib']:.1f} | "
              f"{r['audio_s_per_s'] / rows[0]['audio_s_per_s']:.2f}× | {r['audio_s_per_s'] / rows[2]['audio_s_per_s']:.0%} |")
    recurrence = recurrence_step_ms(config, device, [32, 64, 128, 256])
    print("\n| batch | RNN fwd+bwd ms/step (3 s) | µs per frame | audio-s/s of the RNN alone |\n|---|---|---|---|")
    for r in recurrence:
        print(f"| {r['batch']} | {r['ms_per_step']:.1f} | {r['us_per_frame']:.0f} | {r['audio_s_per_s']:,.0f} |")
    if args.json:
        args.json.write_text(json.dumps({"loops": rows, "recurrence": recurrence, "config": config.to_dict()}, indent=2))


if __name__ == "__main__":
    main()
