"""How many distinct input shapes speed perturbation's resampling sees in one epoch, and how many batch
shapes the model then sees (issue 22): with ``cudnn.benchmark`` on, cuDNN autotunes every new shape.

Usage: python benchmarks/augmentation/resampler_shapes.py DATA_DIR [--batch-size 16]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from tune_asr.config import TrainConfig
from tune_asr.data.batching import pad_audio
from tune_asr.data.corpus import load_corpus
from tune_asr.training import PAD_TO_SAMPLES, AugmentDraws, Trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    config = TrainConfig(unit="grapheme", batch_size=args.batch_size, speed_perturb=0.1, n_mels=40, conv_channels=4,
                         rnn_layers=1, rnn_hidden=16)
    corpus = load_corpus(args.data, config)
    trainer = Trainer(config, corpus, torch.device("cpu"))
    resampled: list[tuple[int, ...]] = []
    for resampler in trainer.waveform_augment.resamplers:
        resampler.register_forward_pre_hook(lambda module, inputs: resampled.append(tuple(inputs[0].shape)))
    draws = AugmentDraws.for_epoch(1, torch.device("cpu"))
    batches = trainer.batches(corpus.train, epoch=1, shuffle=True)
    model_shapes = set()
    for batch in batches:
        audio, lengths = pad_audio([u.samples for u in batch], multiple=PAD_TO_SAMPLES)
        out, _ = trainer.waveform_augment(audio, lengths, pad_to=PAD_TO_SAMPLES, host=draws.host, device=draws.device)
        model_shapes.add(tuple(out.shape))
    print(f"{len(batches)} batches: {len(resampled)} resampler calls, {len(set(resampled))} distinct resampler input shapes; "
          f"{len(model_shapes)} distinct augmented batch shapes")


if __name__ == "__main__":
    main()
