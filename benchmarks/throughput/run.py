"""Training throughput: our step with each speed lever on and off, the model alone and the recurrence alone
(issues 5.1, 14 and 22).

Baseline: the 2022 seed's real loop (its own ``main.py``, unchanged: fp32, 8 DataLoader workers, one
epoch end to end) as measured on 3,000 demo utterances at batch 128: 1,145 audio-s/s on an H100
(2026-12-07) and 1,104 on an H200 (2026-11-29). No emulation of it here: the last one ran 2.4× slower
than the loop it stood for.

Rows, all in one process on the same data, GPU and DeepSpeech2 (kospeech's default: 80 mels, 3 ×
BiGRU-1024; the seed's 2,001-symbol vocabulary with ``--vocab``):
  ours              ``Trainer.train_epoch`` with every lever of ``StepLevers`` on (bf16 autocast,
                    cuDNN autotuning of its few padded shapes);
  ours, no <lever>  the same with that one lever off;
  model alone       the same model's forward + CTC + backward + AdamW step on random features of
                    exactly our batches' shapes, already on the GPU;
every variant first runs an untimed epoch (cuDNN plans, allocator), then the variants' timed epochs
alternate for ``--rounds`` rounds (the median is reported), so drift of a shared GPU hits all alike.
Then the recurrence's time per step at batch 32, 64, 128 and 256, and with ``--profile FILE``
torch.profiler's top operators of a few of our steps and every host sync of one step (CUDA's sync
debug mode) written to FILE.

Usage: python benchmarks/throughput/run.py --data DIR [--vocab LABELS_CSV] [--batch-size 128] [--rounds 3]
       [--variants ours,no-fused_adamw,...] [--json OUT] [--profile FILE]
Without --vocab the vocabulary is built from the data's labels.
--smoke: a tiny model on the CPU for a few steps, to check that the script still runs (no figures).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
import warnings
from pathlib import Path

import torch

from tune_asr.config import TrainConfig
from tune_asr.data.audio import SAMPLE_RATE
from tune_asr.data.batching import padded_length
from tune_asr.data.corpus import Corpus, load_corpus
from tune_asr.model import DeepSpeech2
from tune_asr.training import PAD_TO_SAMPLES, AugmentDraws, StepLevers, Trainer

SMOKE_OVERRIDES = ["n_mels=40", "conv_channels=4", "rnn_hidden=16", "rnn_layers=1", "batch_size=4", "freq_mask_width=8"]
# The 2022 seed's own main.py at batch 128 on 3,000 demo utterances, by card (audio-s/s, train phase).
REAL_SEED_LOOP = {"H100": (1145, "its main.py on one H100, 2026-12-07"), "H200": (1104, "its main.py on one H200, 2026-11-29")}
LEVERS = [field.name for field in dataclasses.fields(StepLevers)]
VARIANTS = ["ours", *(f"no-{lever}" for lever in LEVERS), "model-alone"]


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name() if device.type == "cuda" else "cpu"


def real_seed_loop(device: torch.device) -> tuple[float, str] | None:
    """The seed's real loop's figure on this kind of card (None where it was never measured)."""
    name = device_name(device)
    return next((figure for card, figure in REAL_SEED_LOOP.items() if card in name), None)


def setting_up(args: argparse.Namespace, load_data: bool = True,
               extra: list[str] | None = None) -> tuple[torch.device, TrainConfig, Corpus | None]:
    """The device, the config (``extra`` overrides last) and (unless told not to) the corpus."""
    device = torch.device("cuda" if torch.cuda.is_available() and not args.smoke else "cpu")
    overrides = [*(SMOKE_OVERRIDES if args.smoke else []), *args.overrides, *(extra or [])]
    config = TrainConfig(vocab_path=str(args.vocab) if args.vocab else None, batch_size=args.batch_size,
                         epochs=2).with_overrides(overrides)
    return device, config, load_corpus(args.data, config) if load_data else None


class TrainerRun:
    """One variant: its trainer, warmed up by an untimed epoch, then timed epoch by epoch."""

    def __init__(self, name: str, trainer: Trainer):
        self.name, self.trainer, self.speeds, self.epoch = name, trainer, [], 1
        trainer.train_epoch(epoch=self.epoch, progress=False)  # cuDNN plans, allocator

    def timed(self) -> None:
        self.epoch += 1
        synchronize(self.trainer.device)
        start = time.perf_counter()
        _, audio, _ = self.trainer.train_epoch(epoch=self.epoch, progress=False)
        synchronize(self.trainer.device)
        self.speeds.append(audio / (time.perf_counter() - start))


class ModelAloneRun:
    """Our batches' shapes, random features already on the device: no data pipeline at all."""

    def __init__(self, trainer: Trainer):
        self.name, self.trainer, self.speeds = "model-alone", trainer, []
        device, config = trainer.device, trainer.config
        self.shapes = []
        for batch in trainer.batches(trainer.corpus.train, epoch=2, shuffle=True):
            samples = torch.tensor([len(u.samples) for u in batch])
            padded_frames = int(trainer.features.frame_lengths(torch.tensor(padded_length(int(samples.max()), PAD_TO_SAMPLES))))
            target_lengths = torch.tensor([len(trainer.targets[u.name]) for u in batch])
            targets = torch.randint(3, trainer.corpus.vocab.blank, (int(target_lengths.sum()),), device=device)
            self.shapes.append((torch.randn(len(batch), padded_frames, config.n_mels, device=device),
                                trainer.features.frame_lengths(samples), targets, target_lengths, float(samples.sum()) / SAMPLE_RATE))
        self.epoch()  # untimed: cuDNN tunes each shape once

    def epoch(self) -> float:
        trainer, device = self.trainer, self.trainer.device
        for feats, frames, targets, target_lengths, _ in self.shapes:
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                log_probs, out_lengths = trainer.model(feats, frames)
            loss = trainer.ctc(log_probs.transpose(0, 1), targets, out_lengths, target_lengths)
            trainer.optimizer.zero_grad(set_to_none=True)
            loss.mean().backward()
            trainer.optimizer.step()
        return sum(shape[4] for shape in self.shapes)

    def timed(self) -> None:
        synchronize(self.trainer.device)
        start = time.perf_counter()
        audio = self.epoch()
        synchronize(self.trainer.device)
        self.speeds.append(audio / (time.perf_counter() - start))


def make_run(name: str, args: argparse.Namespace, extra: list[str] | None = None):
    device, config, corpus = setting_up(args, extra=extra)
    if name == "model-alone":
        return ModelAloneRun(Trainer(config, corpus, device))
    levers = StepLevers(**{name[len("no-"):]: False}) if name.startswith("no-") else StepLevers()
    return TrainerRun(name, Trainer(config, corpus, device, levers))


def side_by_side(runs: list, rounds: int) -> list[dict]:
    """The runs' timed epochs, alternated round by round; one row each (median over the rounds)."""
    for round_ in range(1, rounds + 1):
        for run in runs:
            run.timed()
            print(f"round {round_}: {run.name} {run.speeds[-1]:,.0f} audio-s/s", flush=True)  # kept if the run is cut short
    device = runs[0].trainer.device
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
    return [{"variant": run.name, "audio_s_per_s": statistics.median(run.speeds), "each": run.speeds, "peak_gib_all": peak}
            for run in runs]


def print_table(rows: list[dict], device: torch.device, reference: str = "ours") -> None:
    real = real_seed_loop(device)
    alone = next((r["audio_s_per_s"] for r in rows if r["variant"] == "model-alone"), None)
    base = next(r["audio_s_per_s"] for r in rows if r["variant"] == reference)
    seed_header = f"vs the real seed loop ({real[0]:,}: {real[1]})" if real else "vs the real seed loop (not measured on this card)"
    print(f"\n{device_name(device)}\n| variant | audio-s/s (each round) | median | vs {reference} | {seed_header} | vs model alone |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        each = ", ".join(f"{speed:,.0f}" for speed in r["each"])
        versus_seed = f"{r['audio_s_per_s'] / real[0]:.2f}×" if real else "–"
        versus_alone = f"{r['audio_s_per_s'] / alone:.0%}" if alone else "–"
        print(f"| {r['variant']} | {each} | {r['audio_s_per_s']:,.0f} | {r['audio_s_per_s'] / base:.1%} | {versus_seed} | {versus_alone} |")


def profile_steps(trainer: Trainer, path: Path) -> None:
    """Where our step's time goes (torch.profiler's top operators by device and by host time over a few
    steps), and every host sync of one step with the line that caused it (CUDA's sync debug mode)."""
    steps = 8 if trainer.device.type == "cuda" else 2  # on a CPU only to check that it runs
    batches = trainer.batches(trainer.corpus.train, epoch=90, shuffle=True)[:steps]
    draws = AugmentDraws.for_epoch(90, trainer.device)
    on_cuda = trainer.device.type == "cuda"
    activities = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if on_cuda else [])
    with torch.profiler.profile(activities=activities) as profiler:
        for batch in batches:
            trainer.train_step(batch, draws)
        synchronize(trainer.device)
    averages = profiler.key_averages()
    parts = [f"{len(batches)} training steps, batch {trainer.config.batch_size}, {device_name(trainer.device)}, levers {trainer.levers}"]
    if on_cuda:
        parts += ["\n## by self device time\n", averages.table(sort_by="self_device_time_total", row_limit=30)]
    parts += ["\n## by self host time\n", averages.table(sort_by="self_cpu_time_total", row_limit=30)]
    parts += ["\n## host syncs in one step (torch.cuda.set_sync_debug_mode)\n", *sync_sites(trainer, batches[0], draws)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    print(f"profile written to {path}")


def sync_sites(trainer: Trainer, batch, draws: AugmentDraws) -> list[str]:
    """Each synchronising call of one training step, with the innermost project line above it."""
    if trainer.device.type != "cuda":
        return ["(CUDA only)"]
    import traceback

    sites: list[str] = []

    def record(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001 (warnings' hook)
        ours = [frame for frame in traceback.extract_stack()[:-1] if "/tune_asr/" in frame.filename]
        where = f"{ours[-1].filename.rsplit('/tune_asr/', 1)[1]}:{ours[-1].lineno} {ours[-1].line}" if ours else f"{filename}:{lineno}"
        sites.append(f"- {str(message).splitlines()[0][:120]} at tune_asr/{where}")

    with warnings.catch_warnings():  # restores the warning filters and hook afterwards
        warnings.simplefilter("always")
        warnings.showwarning = record
        torch.cuda.set_sync_debug_mode("warn")
        try:
            trainer.train_step(batch, draws)
            torch.cuda.synchronize()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sites or ["none"]


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


def arguments(description: str) -> argparse.ArgumentParser:
    """The options every training-step benchmark shares (this one and benchmarks/augmentation)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="key=value for every row")
    parser.add_argument("--vocab", type=Path, help="a kospeech labels.csv (the seed's: 2,001 outputs); default: built from the data")
    parser.add_argument("--rounds", type=int, default=3, help="timed epochs per variant, alternated")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--smoke", action="store_true", help="tiny model, CPU, a few steps: checks the script runs")
    return parser


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--profile", type=Path, help="write torch.profiler's top operators and the host syncs of our step here")
    parser.add_argument("--no-recurrence", action="store_true", help="skip the recurrence-alone table")
    args = parser.parse_args()
    args.recurrence_batches = [2] if args.smoke else [32, 64, 128, 256]
    if args.smoke:
        args.rounds = 1
    names = args.variants.split(",")
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {', '.join(unknown)}; known: {', '.join(VARIANTS)}")
    runs = [make_run(name, args) for name in names]
    device, corpus = runs[0].trainer.device, runs[0].trainer.corpus
    print(f"{len(corpus.train)} training utterances, {sum(u.seconds for u in corpus.train) / len(corpus.train):.2f} s mean, "
          f"vocabulary {len(corpus.vocab)}, batch {args.batch_size}, {device_name(device)}, {args.rounds} rounds", flush=True)
    rows = side_by_side(runs, args.rounds)
    print_table(rows, device, reference=names[0])
    results = {"device": device_name(device), "rows": rows, "recurrence": [], "config": runs[0].trainer.config.to_dict()}
    save(results, args.json)
    if args.profile:
        profile_steps(next(run.trainer for run in runs if isinstance(run, TrainerRun)), args.profile)
    if not args.no_recurrence:
        del runs  # the recurrence alone measures on a GPU free of the variants' models
        results["recurrence"] = recurrence_step_ms(args)
        print("\n| batch | RNN fwd+bwd ms/step (3 s) | µs per frame | audio-s/s of the RNN alone |\n|---|---|---|---|")
        for r in results["recurrence"]:
            print(f"| {r['batch']} | {r['ms_per_step']:.1f} | {r['us_per_frame']:.0f} | {r['audio_s_per_s']:,.0f} |")
        save(results, args.json)


def save(results: dict, path: Path | None) -> None:
    """Write what is measured so far (a run cut short by its time box keeps it)."""
    if path:
        path.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
