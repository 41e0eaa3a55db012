"""NSML entry point of a model exported by tune-asr's ``export-best`` (README.md has the commands).

``nsml run`` starts it in train mode: it registers the exported weights as checkpoint 0 (submit
that one as is) and, with ``--finetune-epochs N``, goes on training them on ``DATASET_PATH`` with the
searched configuration, saving checkpoints 1..N and reporting every epoch. ``nsml submit`` restarts
it with ``--mode test --pause 1``: ``nsml.paused`` then calls the bound ``load`` and ``infer``.
"""

import argparse
import dataclasses
from pathlib import Path

import torch

import nsml

from recognizer import VOCAB_FILE, Recognizer

BUNDLE = Path(__file__).resolve().parent / "model"
EXPORTED_CHECKPOINT = "0"
SUBMIT_CPU_CORES = 4  # a submit session gets at most 4 cores; more torch threads only contend


def bind_model(recognizer: Recognizer) -> None:
    """Bind save/load/infer; everything a submit needs is written by ``save``."""

    def save(path, *args, **kwargs):
        recognizer.save(Path(path))
        print(f"saved the model to {path}")

    def load(path, *args, **kwargs):
        recognizer.load(Path(path))
        print(f"loaded the model from {path}")

    def infer(path, **kwargs):
        return recognizer.infer_folder(Path(path))

    nsml.bind(save=save, load=load, infer=infer)  # must come last, after the model exists


def finetune(recognizer: Recognizer, epochs: int) -> None:
    """Train the exported weights further on DATASET_PATH with the core's own training loop."""
    from tune_asr.data.corpus import load_corpus
    from tune_asr.training import Trainer

    config = dataclasses.replace(recognizer.config, epochs=epochs, vocab_path=str(BUNDLE / VOCAB_FILE))
    corpus = load_corpus(nsml.DATASET_PATH, config)
    print(corpus.report.summary())
    trainer = Trainer(config, corpus, recognizer.device)
    trainer.model.load_state_dict(recognizer.model.state_dict())
    recognizer.model = trainer.model
    for record in trainer.epochs(progress=False):
        print(f"epoch {record.epoch}: " + "  ".join(f"{key} {value:.4g}" for key, value in record.to_dict().items()))
        nsml.report(summary=True, step=record.epoch, **record.to_dict())
        nsml.save(record.epoch)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", type=str, default="train")  # reserved by NSML: "test" on submit
    parser.add_argument("--iteration", type=str, default="0")  # reserved by NSML (nsml fork)
    parser.add_argument("--pause", type=int, default=0)  # reserved by NSML: 1 when loading
    parser.add_argument("--finetune-epochs", type=int, default=0, help="train mode: epochs of fine-tuning on DATASET_PATH (0: none)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if not torch.cuda.is_available():
        torch.set_num_threads(min(torch.get_num_threads(), SUBMIT_CPU_CORES))
    recognizer = Recognizer.from_folder(BUNDLE)
    config = recognizer.config
    print(f"DeepSpeech2 {config.rnn_layers} x {config.rnn_type}-{config.rnn_hidden}, {len(recognizer.vocab)} outputs, on {recognizer.device}")
    bind_model(recognizer)
    if args.pause:
        nsml.paused(scope=locals())
    if args.mode == "train":
        nsml.save(EXPORTED_CHECKPOINT)
        if args.finetune_epochs:
            finetune(recognizer, args.finetune_epochs)


if __name__ == "__main__":
    main()
