"""The one training loop: trains a configuration for its epochs and calls back after each epoch.

It knows nothing of Ray. When ``torch.distributed`` is initialised (Ray Train's workers, torchrun),
it wraps the model in DDP and shards the batches by rank itself; metrics are all-reduced so every
rank sees the same record.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from tune_asr.augment import WaveformAugment
from tune_asr.checkpoint import load_checkpoint, save_checkpoint, vocab_state
from tune_asr.config import TrainConfig
from tune_asr.data.audio import SAMPLE_RATE
from tune_asr.data.batching import length_batches, pad_audio
from tune_asr.data.corpus import Corpus, Utterance
from tune_asr.decoding import greedy_decode
from tune_asr.features import LogMelFeatures, spec_augment
from tune_asr.inference_cost import InferenceCost, measure_inference_cost
from tune_asr.metrics import char_errors, word_errors
from tune_asr.model import DeepSpeech2
from tune_asr.schedules import make_scheduler
from tune_asr.tensors import to_device

LOG_EVERY_STEPS = 10
PAD_TO_SAMPLES = 5120  # 0.32 s: batch shapes in steps of 32 feature frames


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite (typically a learning rate far too high).

    Deterministic: a retry of the same configuration diverges again, so it is not worth one.
    """

    def __init__(self, message: str, epoch: int = 0):
        super().__init__(message)
        self.epoch = epoch


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    train_loss: float
    val_loss: float
    val_cer: float
    val_wer: float
    lr: float
    seconds: float
    audio_seconds_per_second: float
    train_seconds: float = 0.0  # of ``seconds``, the training pass (the rest: validation); 0 in histories from before it was kept
    # The exported package's inference cost (tune_asr.inference_cost), measured once per run; NaN/0 in older histories
    rtf: float = math.nan
    params: int = 0
    model_mb: float = math.nan
    rtf_measure_s: float = 0.0  # what measuring it took in this epoch (0 once measured)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class Evaluation:
    loss: float
    cer: float
    wer: float
    per_utterance: list[tuple[str, int, int]]  # (name, character edits, reference characters)


@dataclass(frozen=True)
class AugmentDraws:
    """An epoch's seeded random draws for augmentation: on the host what decides batch shapes (no wait
    for the GPU), on the training device the rest."""

    host: torch.Generator
    device: torch.Generator

    @classmethod
    def for_epoch(cls, seed: int, device: torch.device) -> "AugmentDraws":
        return cls(torch.Generator().manual_seed(seed), torch.Generator(device=device).manual_seed(seed))


@dataclass(frozen=True)
class StepLevers:
    """Speed levers of the training step, all on by default; benchmarks/throughput turns each off in turn
    to measure what it buys. None changes what is learned beyond float rounding and which row a random
    draw lands on."""

    fused_adamw: bool = True  # AdamW as one fused kernel per step on CUDA (torch's foreach otherwise)
    longest_first: bool = True  # batch rows by falling length: the model need not permute them for packing
    ctc_device_mean: bool = True  # CTC per utterance, mean on the device: no blocking copy of target lengths
    channels_last: bool = True  # front-end convolutions in channels-last layout on CUDA


EpochCallback = Callable[[EpochRecord, Callable[[Path], Path]], None]


def default_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def _rank_and_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    if _rank_and_world()[1] > 1:
        dist.all_reduce(tensor)
    return tensor.tolist()


def _autocast(device: torch.device, config: TrainConfig):
    use_bf16 = config.precision == "bf16" or (config.precision == "auto" and device.type == "cuda")
    return torch.autocast(device.type, dtype=torch.bfloat16) if use_bf16 else nullcontext()


class Trainer:
    """Model, optimiser and data of one run; ``fit`` runs the epochs."""

    def __init__(self, config: TrainConfig, corpus: Corpus, device: torch.device, levers: StepLevers = StepLevers()):
        self.config, self.corpus, self.device, self.levers = config, corpus, device, levers
        self.rank, self.world_size = _rank_and_world()
        torch.manual_seed(config.seed)
        torch.backends.cudnn.benchmark = device.type == "cuda"  # safe: batch shapes are few (PAD_TO_SAMPLES)
        self.features = LogMelFeatures.from_config(config).to(device)
        self.waveform_augment = WaveformAugment.from_config(config).to(device)
        self.model = DeepSpeech2(config, len(corpus.vocab)).to(device)
        on_cuda = device.type == "cuda"
        if levers.channels_last and on_cuda:
            self.model.front_end.use_channels_last()
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                           fused=(levers.fused_adamw and on_cuda) or None)
        steps_per_epoch = len(self.batches(corpus.train, epoch=1, shuffle=True))
        self.scheduler = make_scheduler(self.optimizer, config, steps_per_epoch * config.epochs)
        self.ctc = torch.nn.CTCLoss(blank=corpus.vocab.blank, zero_infinity=True,
                                    reduction="none" if levers.ctc_device_mean else "mean")
        everything = corpus.train + corpus.val
        self.targets = {u.name: torch.from_numpy(ids) for u, ids in zip(everything, corpus.vocab.encode_all([u.text for u in everything]))}
        self.history: list[EpochRecord] = []
        self.evaluation: Evaluation | None = None
        self.inference_cost: InferenceCost | None = None
        self.ddp_model = self.model
        if self.world_size > 1:
            # device_ids=None: with device ids, DDP would move every input to the GPU, the host-side
            # lengths that packing needs included.
            self.ddp_model = DistributedDataParallel(self.model, device_ids=None)

    def batches(self, utterances: list[Utterance], epoch: int, shuffle: bool) -> list[list[Utterance]]:
        """This rank's length-bucketed batches of ``utterances`` for ``epoch`` (the same on every call)."""
        indices = length_batches(
            [len(u.samples) for u in utterances], self.config.batch_size,
            seed=self.config.seed, epoch=epoch, rank=self.rank, world_size=self.world_size, shuffle=shuffle,
        )
        if not self.levers.longest_first:
            return [[utterances[i] for i in batch] for batch in indices]
        return [sorted((utterances[i] for i in batch), key=lambda u: -len(u.samples)) for batch in indices]

    def _loss(self, batch: list[Utterance], draws: AugmentDraws | None, model: torch.nn.Module):
        """CTC loss of ``batch``; with ``draws`` (training), the waveform and SpecAugment perturbations first."""
        audio, sample_lengths = pad_audio([u.samples for u in batch], multiple=PAD_TO_SAMPLES)
        audio = to_device(audio, self.device)
        with torch.no_grad():
            if draws is not None and self.waveform_augment.active:
                audio, sample_lengths = self.waveform_augment(audio, sample_lengths, pad_to=PAD_TO_SAMPLES,
                                                              host=draws.host, device=draws.device)
            feats, device_frame_lengths = self.features(audio, sample_lengths)  # the model packs with the host copy
            if draws is not None:
                feats = spec_augment(
                    feats, device_frame_lengths,
                    freq_mask_width=self.config.freq_mask_width, freq_mask_count=self.config.freq_mask_count,
                    time_mask_fraction=self.config.time_mask_fraction, time_mask_count=self.config.time_mask_count,
                    generator=draws.device,
                )
        frame_lengths = self.features.frame_lengths(sample_lengths)
        targets = [self.targets[u.name] for u in batch]
        target_lengths = torch.tensor([len(t) for t in targets], dtype=torch.long)
        with _autocast(self.device, self.config):
            log_probs, out_lengths = model(feats, frame_lengths)
        loss = self.ctc(log_probs.transpose(0, 1), to_device(torch.cat(targets), self.device), out_lengths, target_lengths)
        if self.levers.ctc_device_mean:  # CTCLoss's "mean", with the lengths copied without waiting for the GPU
            loss = (loss / to_device(target_lengths.clamp(min=1), self.device).to(loss.dtype)).mean()
        return loss, log_probs, out_lengths

    def train_step(self, batch: list[Utterance], draws: AugmentDraws | None) -> torch.Tensor:
        """One optimiser step on ``batch``, augmented with ``draws``; the loss stays on the device."""
        loss, _, _ = self._loss(batch, draws, model=self.ddp_model)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        return loss

    def train_epoch(self, epoch: int, progress: bool) -> tuple[float, float, float]:
        """One pass over this rank's batches; returns (mean loss, audio seconds, seconds)."""
        self.model.train()
        torch.manual_seed(self.config.seed * 1000 + epoch)  # dropout: a resumed run draws the same masks
        draws = AugmentDraws.for_epoch(self.config.seed * 1000 + epoch, self.device)
        batches = self.batches(self.corpus.train, epoch, shuffle=True)
        loss_sum = torch.zeros((), device=self.device)
        audio_seconds = sum(len(u.samples) for b in batches for u in b) / SAMPLE_RATE
        start = time.perf_counter()
        bar = tqdm(batches, desc=f"epoch {epoch}/{self.config.epochs}", unit="batch", disable=not progress or self.rank != 0, leave=False)
        read_every = 1 if self.device.type == "cpu" else LOG_EVERY_STEPS  # .item() makes the host wait for the GPU
        for step, batch in enumerate(bar, start=1):
            loss = self.train_step(batch, draws)
            loss_sum += loss.detach()
            if not bar.disable and (step - 1) % read_every == 0:  # the step it was read at tells its age
                bar.set_postfix_str(f"loss {loss.item():.3f} @step {step}")
        bar.close()
        total_loss, total_batches, total_audio = _all_reduce_sum([loss_sum.item(), len(batches), audio_seconds], self.device)
        mean_loss = total_loss / max(1, total_batches)
        if not math.isfinite(mean_loss):
            raise TrainingDiverged(f"epoch {epoch}: training loss is {mean_loss} (lr={self.config.lr:g})", epoch)
        return mean_loss, total_audio, time.perf_counter() - start

    @torch.no_grad()
    def evaluate(self) -> Evaluation:
        """Eval mode, no augmentation, all of the validation set (sharded over ranks, then summed)."""
        self.model.eval()
        loss_sum, per_utterance, word_counts = 0.0, [], [0, 0]
        for batch in self.batches(self.corpus.val, epoch=0, shuffle=False):
            loss, log_probs, out_lengths = self._loss(batch, draws=None, model=self.model)
            loss_sum += loss.item() * len(batch)
            for utterance, hypothesis in zip(batch, greedy_decode(log_probs, out_lengths, self.corpus.vocab)):
                per_utterance.append((utterance.name, *char_errors(utterance.text, hypothesis)))
                for i, count in enumerate(word_errors(utterance.text, hypothesis)):
                    word_counts[i] += count
        char_edits = sum(e for _, e, _ in per_utterance)
        char_total = sum(n for _, _, n in per_utterance)
        sums = _all_reduce_sum([loss_sum, len(per_utterance), char_edits, char_total, *word_counts], self.device)
        if self.world_size > 1:
            gathered: list[Any] = [None] * self.world_size
            dist.all_gather_object(gathered, per_utterance)
            per_utterance = [item for part in gathered for item in part]
        return Evaluation(
            loss=sums[0] / max(1, sums[1]), cer=sums[2] / max(1, sums[3]), wer=sums[4] / max(1, sums[5]),
            per_utterance=sorted(per_utterance),
        )

    def state(self) -> dict[str, Any]:
        return {
            "format": 1,
            "epoch": self.history[-1].epoch if self.history else 0,
            "config": self.config.to_dict(),
            "vocab": vocab_state(self.corpus.vocab),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "history": [r.to_dict() for r in self.history],
            "val_per_utterance": self.evaluation.per_utterance if self.evaluation else [],
        }

    def restore(self, state: dict[str, Any]) -> None:
        if state["vocab"]["symbols"] != self.corpus.vocab.symbols:
            raise ValueError("checkpoint vocabulary differs from this data's vocabulary: cannot resume")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.history = [EpochRecord(**r) for r in state["history"]]

    def epochs(self, progress: bool) -> Iterator[EpochRecord]:
        for epoch in range(len(self.history) + 1, self.config.epochs + 1):
            start = time.perf_counter()
            lr = self.optimizer.param_groups[0]["lr"]
            train_loss, audio_seconds, train_seconds = self.train_epoch(epoch, progress)
            self.evaluation = self.evaluate()
            measured = self.inference_cost is None
            if measured:
                self.inference_cost = measure_inference_cost(self.model, self.features, self.corpus.vocab,
                                                             self.corpus.val, self.device)
            cost = self.inference_cost
            record = EpochRecord(
                epoch=epoch, train_loss=train_loss, val_loss=self.evaluation.loss, val_cer=self.evaluation.cer,
                val_wer=self.evaluation.wer, lr=lr, seconds=time.perf_counter() - start,
                audio_seconds_per_second=audio_seconds / max(train_seconds, 1e-9), train_seconds=train_seconds,
                rtf=cost.rtf, params=cost.params, model_mb=cost.model_mb, rtf_measure_s=cost.seconds if measured else 0.0,
            )
            self.history.append(record)
            yield record


def train(
    config: TrainConfig,
    corpus: Corpus,
    *,
    on_epoch: EpochCallback | None = None,
    resume_from: Path | None = None,
    device: torch.device | None = None,
    progress: bool = True,
) -> list[EpochRecord]:
    """Train ``config`` on ``corpus``; ``on_epoch(record, save_checkpoint)`` runs after every epoch.

    ``save_checkpoint(directory)`` writes ``directory/checkpoint.pt`` (model, optimiser, scheduler,
    vocabulary, config, history); pass that file as ``resume_from`` to continue exactly where it
    stopped. Call it on one rank only.
    """
    trainer = Trainer(config, corpus, device or default_device())
    if resume_from is not None:
        trainer.restore(load_checkpoint(resume_from))
    for record in trainer.epochs(progress):
        if on_epoch is not None:
            on_epoch(record, lambda directory: save_checkpoint(directory, trainer.state()))
    return trainer.history
