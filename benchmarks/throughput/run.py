"""Training throughput: the 2022 seed's loop, ours and the model alone (issues 5.1 and 14).

Every row runs in a fresh process of its own, with the settings its loop really uses, on the same
demo data, GPU and DeepSpeech2 (kospeech's default: 80 mels, 3 × BiGRU-1024; the seed's own
2,001-symbol vocabulary with ``--vocab``):
  seed-loop   the 2022 baseline's ``trainer('train', ...)`` step for step: cuDNN autotuning off
              (the seed never turns it on), fp32, Adam; in 8 DataLoader workers each file read,
              stripped of silence, turned into Kaldi fbank features (povey window) and normalised,
              every utterance once plain and once with SpecAugment (the seed's dataset doubles
              itself), random order; each step ``model.to(device)``, lengths moved to the GPU and
              read back (packing, CTC's length tuples, the frame total, ``loss.item()``),
              ``torch.cuda.empty_cache()``, and every 50th step and the last the batch's CER, read
              off the GPU label by label with ``.item()`` as its metric does. Timed as the seed's
              own figure is: one epoch end to end, DataLoader worker start-up included, in
              audio-seconds of the files (before silence removal);
  ours        ``tune_asr.training.Trainer.train_epoch`` (its own settings: bf16 autocast, cuDNN
              autotuning of its few padded shapes); an untimed epoch first, then a timed one;
  model-alone the same model's forward + CTC + backward + AdamW step on random features of exactly
              our batches' shapes, already on the GPU (each shape tuned once, untimed, first);
and the recurrence's time per step at batch 32, 64, 128 and 256.

Usage: python benchmarks/throughput/run.py --data DIR [--vocab LABELS_CSV] [--batch-size 128] [--json OUT] [--profile]
Without --vocab the vocabulary is built from the data's labels.
--smoke: a tiny model on the CPU for a few steps, to check that the script still runs (no figures).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torchaudio

from tune_asr.config import TrainConfig
from tune_asr.data.audio import SAMPLE_RATE, read_pcm
from tune_asr.data.batching import padded_length
from tune_asr.data.corpus import Corpus, load_corpus
from tune_asr.data.vocab import SPECIALS
from tune_asr.metrics import char_errors
from tune_asr.model import DeepSpeech2
from tune_asr.training import PAD_TO_SAMPLES, AugmentDraws, Trainer

SMOKE_OVERRIDES = ["n_mels=40", "conv_channels=4", "rnn_hidden=16", "rnn_layers=1", "batch_size=4", "freq_mask_width=8"]
EOS = SPECIALS.index("<eos>")  # where the seed's label-to-text loop stops
SEED_PRINT_EVERY = 50  # the seed's --print_every: its batch CER is computed on these steps


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def peak_gib(device: torch.device) -> float:
    return torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")


def row(name: str, audio_seconds: float, utterances: int, seconds: float, device: torch.device) -> dict:
    return {"loop": name, "audio_s_per_s": audio_seconds / seconds, "utt_per_s": utterances / seconds,
            "seconds": seconds, "peak_gib": peak_gib(device)}


def delete_silence(signal: np.ndarray, top_db: float = 30.0, frame: int = 2048, hop: int = 512) -> np.ndarray:
    """The seed's ``del_silence``: keep the samples of every frame whose energy lies within ``top_db``
    of the loudest frame's (librosa's ``effects.split`` rule, which the seed carries a copy of)."""
    padded = np.pad(signal, frame // 2, mode="reflect")
    power = (np.lib.stride_tricks.sliding_window_view(padded, frame)[::hop] ** 2).mean(axis=1)
    loud = 10 * np.log10(np.maximum(power, 1e-10) / max(power.max(), 1e-10)) > -top_db
    return signal[np.repeat(loud, hop)[: len(signal)]]


class SeedDataset(torch.utils.data.Dataset):
    """The seed's dataset: every file listed once plain and once for SpecAugment, and per sample
    read, stripped of silence, turned into Kaldi fbank features (povey window) and normalised."""

    def __init__(self, corpus: Corpus, config: TrainConfig, audio_dir: Path):
        self.items = [(audio_dir / u.name, corpus.vocab.encode(u.text), augment) for augment in (False, True) for u in corpus.train]
        self.config = config

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        path, target, augment = self.items[index]
        samples = read_pcm(path)
        signal = delete_silence(samples.astype(np.float32)) / 32767
        feats = torchaudio.compliance.kaldi.fbank(torch.from_numpy(signal).unsqueeze(0), num_mel_bins=self.config.n_mels,
                                                  frame_length=20, frame_shift=10, sample_frequency=SAMPLE_RATE)
        feats = (feats - feats.mean()) / feats.std()
        if augment:
            for _ in range(self.config.freq_mask_count):
                width = random.randint(0, self.config.freq_mask_width)
                start = random.randint(0, feats.size(1) - width)
                feats[:, start : start + width] = 0
            for _ in range(self.config.time_mask_count):
                width = random.randint(0, int(feats.size(0) * self.config.time_mask_fraction))
                start = random.randint(0, max(0, feats.size(0) - width))
                feats[start : start + width] = 0
        return feats, torch.tensor([*target, EOS]), len(samples) / SAMPLE_RATE


def seed_collate(items):
    """Longest first, features padded to the longest, targets padded 2-D each ending in <eos> (the seed's layout)."""
    items = sorted(items, key=lambda item: item[0].size(0), reverse=True)
    feats, targets, seconds = zip(*items)
    return (torch.nn.utils.rnn.pad_sequence(feats, batch_first=True), torch.tensor([f.size(0) for f in feats]),
            torch.nn.utils.rnn.pad_sequence(targets, batch_first=True), [len(t) - 1 for t in targets], sum(seconds))


def seed_batch_cer(targets: torch.Tensor, hypotheses: torch.Tensor, symbols: list[str], blank: int) -> float:
    """A batch's CER as the seed's metric computes it: every label of the target and of the argmax
    read off the GPU with its own ``.item()``, a host sync each."""

    def text(labels: torch.Tensor) -> str:
        out = ""
        for label in labels:
            if label.item() == EOS:
                break
            if label.item() == blank:
                continue
            out += symbols[label.item()]
        return out

    edits = total = 0
    for target, hypothesis in zip(targets, hypotheses):
        distance, length = char_errors(text(target), text(hypothesis))
        edits, total = edits + distance, total + length
    return edits / max(1, total)


def seed_loop(args: argparse.Namespace) -> dict:
    """One epoch of the seed's ``trainer('train', ...)``, step for step (its host syncs included)."""
    torch.backends.cudnn.benchmark = False
    device, config, corpus = setting_up(args)
    model = DeepSpeech2(config, len(corpus.vocab))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    ctc = torch.nn.CTCLoss(blank=corpus.vocab.blank, zero_infinity=True)
    dataset = SeedDataset(corpus, config, args.data / "train" / "train_data")
    loader = torch.utils.data.DataLoader(dataset, batch_size=config.batch_size, shuffle=True,
                                         num_workers=args.workers, collate_fn=seed_collate)

    def step(feats: torch.Tensor, lengths: torch.Tensor, targets: torch.Tensor, target_lengths: list[int], cer: bool) -> None:
        nonlocal model
        feats, targets, lengths = feats.to(device), targets.to(device), lengths.to(device)
        target_lengths = torch.as_tensor(target_lengths).to(device)
        model = model.to(device)
        log_probs, out_lengths = model(feats, lengths.cpu())  # kospeech's model takes device lengths and packs with a host copy
        out_lengths = out_lengths.to(device)
        loss = ctc(log_probs.transpose(0, 1), targets, tuple(out_lengths), tuple(target_lengths))  # a sync per length
        hypotheses = log_probs.max(-1)[1]
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        int(lengths.sum()), loss.item()  # the seed's frame total and epoch loss: a host sync each
        if device.type == "cuda":
            torch.cuda.empty_cache()
        if cer:
            seed_batch_cer(targets, hypotheses, corpus.vocab.symbols, corpus.vocab.blank)

    step(*seed_collate([dataset[0], dataset[1]])[:4], cer=False)  # the CUDA context and libraries, before the clock
    synchronize(device)
    start = time.perf_counter()
    audio = utterances = 0.0
    batches = len(loader)
    for index, (feats, lengths, targets, target_lengths, seconds) in enumerate(loader):
        # the seed prints (and so computes) the batch CER every 50 steps, and returns the last batch's
        step(feats, lengths, targets, target_lengths, cer=index % SEED_PRINT_EVERY == 0 or index == batches - 1)
        audio += seconds
        utterances += len(lengths)
    synchronize(device)
    return row("seed-loop (its own loop: fp32, per-sample CPU features, its host syncs, no autotuning)", audio,
               utterances, time.perf_counter() - start, device)


def our_loop(args: argparse.Namespace) -> dict:
    device, config, corpus = setting_up(args)
    trainer = Trainer(config, corpus, device)  # sets its own cuDNN autotuning
    trainer.train_epoch(epoch=1, progress=False)  # warm-up: cuDNN plans, allocator
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    synchronize(device)
    start = time.perf_counter()
    _, audio, _ = trainer.train_epoch(epoch=2, progress=False)
    synchronize(device)
    result = row("ours (tune_asr.training, bf16)", audio, len(corpus.train), time.perf_counter() - start, device)
    if args.profile:
        print(profile_steps(trainer))
    return result


def profile_steps(trainer: Trainer, steps: int = 8) -> str:
    """Where our step's time goes: torch.profiler over a few training steps, top operators."""
    batches = trainer.batches(trainer.corpus.train, epoch=3, shuffle=True)[:steps]
    activities = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
    with torch.profiler.profile(activities=activities) as profiler:
        for batch in batches:
            trainer.train_step(batch, AugmentDraws.for_epoch(3, trainer.device))
        synchronize(trainer.device)
    return profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=20)


def model_alone(args: argparse.Namespace) -> dict:
    """Our batches' shapes, random features already on the device: no data pipeline at all."""
    device, config, corpus = setting_up(args)
    trainer = Trainer(config, corpus, device)  # our settings, model, optimiser and batches
    shapes = []
    for batch in trainer.batches(corpus.train, epoch=2, shuffle=True):
        samples = torch.tensor([len(u.samples) for u in batch])
        frames = trainer.features.frame_lengths(samples)
        padded_frames = int(trainer.features.frame_lengths(torch.tensor(padded_length(int(samples.max()), PAD_TO_SAMPLES))))
        targets = torch.tensor([len(trainer.targets[u.name]) for u in batch])
        shapes.append((torch.randn(len(batch), padded_frames, config.n_mels, device=device), frames, targets,
                       float(samples.sum()) / SAMPLE_RATE))
    model, optimizer = trainer.model, trainer.optimizer
    ctc = torch.nn.CTCLoss(blank=corpus.vocab.blank, zero_infinity=True)

    def step(feats, frames, target_lengths):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            log_probs, out_lengths = model(feats, frames)
        targets = torch.randint(3, corpus.vocab.blank, (int(target_lengths.sum()),), device=device)
        loss = ctc(log_probs.transpose(0, 1), targets, out_lengths, target_lengths)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for feats, frames, targets, _ in shapes:  # untimed: cuDNN tunes each shape once
        step(feats, frames, targets)
    synchronize(device)
    start = time.perf_counter()
    for feats, frames, targets, _ in shapes:
        step(feats, frames, targets)
    synchronize(device)
    audio = sum(s[3] for s in shapes)
    return row("model alone (random features, bf16)", audio, sum(len(s[1]) for s in shapes), time.perf_counter() - start, device)


def recurrence_step_ms(args: argparse.Namespace) -> list[dict]:
    """Forward + backward of the RNN stack alone on 150 frames (3 s of audio after the front-end)."""
    torch.backends.cudnn.benchmark = True  # as our loop runs
    device, config, _ = setting_up(args, load_data=False)
    model = DeepSpeech2(config, 2001).to(device)
    frames, repeats = 150, 10
    rows = []
    for batch in args.recurrence_batches:
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
        for _ in range(repeats):
            run()
        synchronize(device)
        ms = (time.perf_counter() - start) / repeats * 1000
        rows.append({"batch": batch, "ms_per_step": ms, "us_per_frame": ms * 1000 / frames,
                     "audio_s_per_s": batch * frames * 0.02 / (ms / 1000)})
    return rows


def setting_up(args: argparse.Namespace, load_data: bool = True) -> tuple[torch.device, TrainConfig, Corpus | None]:
    """What every row's process needs: its device, the config and (unless told not to) the corpus."""
    device = torch.device("cuda" if torch.cuda.is_available() and not args.smoke else "cpu")
    overrides = [*SMOKE_OVERRIDES, *args.overrides] if args.smoke else args.overrides
    config = TrainConfig(vocab_path=str(args.vocab) if args.vocab else None, batch_size=args.batch_size,
                         epochs=2).with_overrides(overrides)
    return device, config, load_corpus(args.data, config) if load_data else None


def in_own_process(function, args: argparse.Namespace):
    """Run one row in a fresh process: no cuDNN setting, plan cache or allocator state leaks between rows."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, args).result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=8, help="DataLoader workers of the seed loop (the seed's own: 8)")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--vocab", type=Path, help="a kospeech labels.csv (the seed's: 2,001 outputs); default: built from the data")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--profile", action="store_true", help="print torch.profiler's top operators of our step")
    parser.add_argument("--smoke", action="store_true", help="tiny model, CPU, a few steps: checks the script runs")
    args = parser.parse_args()
    args.recurrence_batches = [2] if args.smoke else [32, 64, 128, 256]
    if args.smoke:
        args.workers = min(args.workers, 1)
    device, config, corpus = setting_up(args)
    print(f"{len(corpus.train)} training utterances, {sum(u.seconds for u in corpus.train) / len(corpus.train):.2f} s mean, "
          f"vocabulary {len(corpus.vocab)}, batch {config.batch_size}, {torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu'}")
    del corpus
    rows = [in_own_process(loop, args) for loop in (seed_loop, our_loop, model_alone)]
    print("\n| loop | audio-s/s | utt/s | peak GiB | vs seed | vs model alone |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['loop']} | {r['audio_s_per_s']:,.0f} | {r['utt_per_s']:,.1f} | {r['peak_gib']:.1f} | "
              f"{r['audio_s_per_s'] / rows[0]['audio_s_per_s']:.2f}× | {r['audio_s_per_s'] / rows[2]['audio_s_per_s']:.0%} |")
    recurrence = in_own_process(recurrence_step_ms, args)
    print("\n| batch | RNN fwd+bwd ms/step (3 s) | µs per frame | audio-s/s of the RNN alone |\n|---|---|---|---|")
    for r in recurrence:
        print(f"| {r['batch']} | {r['ms_per_step']:.1f} | {r['us_per_frame']:.0f} | {r['audio_s_per_s']:,.0f} |")
    if args.json:
        args.json.write_text(json.dumps({"loops": rows, "recurrence": recurrence, "config": config.to_dict()}, indent=2))


if __name__ == "__main__":
    main()
