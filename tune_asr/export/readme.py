"""The README of an exported package: where the weights came from and the exact platform commands."""

from __future__ import annotations

from tune_asr.config import TrainConfig

TEMPLATE = """\
# DeepSpeech2 for {cli}: exported by tune-asr

{source}

Model: {rnn_layers} × bidirectional {rnn_type_upper}-{rnn_hidden}, {n_mels} log-mel bins, {outputs} {unit} outputs
(`model/config.json` holds the full training configuration).

## Submit these weights

```bash
cd {folder}
{cli} run -d {dataset} -e main.py -g 1        # saves the exported weights as checkpoint 0; prints SESSION (user/{dataset}/N)
{cli} model ls SESSION                         # lists checkpoint 0
{cli} submit -t SESSION 0                      # free test submit on a small set: checks load and infer
{cli} submit SESSION 0                         # the real submit (one an hour)
```

## Fine-tune on the competition data first

```bash
{cli} run -d {dataset} -e main.py -g 1 -a "--finetune-epochs 5"
{cli} model ls SESSION                         # checkpoints 1..5, each with its val_cer
{cli} submit SESSION 5                         # or the checkpoint with the lowest val_cer
```

Fine-tuning continues from these weights with the searched configuration (its learning-rate schedule
restarts over the given epochs), on an 8:2 split of `DATASET_PATH/train`, and reports every epoch.

## What is here

- `main.py`: binds `save`/`load`/`infer`; `--mode`, `--iteration`, `--pause` are NSML's reserved arguments.
- `recognizer.py`: inference; every file of the test folder, batched by length, on the GPU if there is one;
  an unreadable or near-silent file is transcribed as `''` with a warning.
- `tune_asr/`: the feature, model and decoding code that trained the weights, copied unchanged from tune-asr.
- `model/`: `weights.pt`, `config.json`, `vocab.csv` (kospeech format). `save()` writes all three into
  every checkpoint, since nothing else reaches a submit session.
- `setup.py`: the Docker image (first line) and pip packages; `{apt_file}`: apt packages (none needed).

## Check it locally (in the tune-asr project)

```bash
python -m tune_asr.export.replay {folder} DATA    # DATA/test/test_data + DATA/test/test_label
```
It runs this folder as `{cli} run` and then `{cli} submit` would, with a stand-in `{cli}` module, and prints CER,
files, seconds and speed.
"""


def render_readme(cli: str, config: TrainConfig, outputs: int, source: str, *, folder: str = ".", dataset: str = "DATASET", apt_file: str) -> str:
    return TEMPLATE.format(
        cli=cli, source=source or "Exported from a tune-asr checkpoint.", folder=folder, dataset=dataset, apt_file=apt_file,
        rnn_layers=config.rnn_layers, rnn_type_upper=config.rnn_type.upper(), rnn_hidden=config.rnn_hidden,
        n_mels=config.n_mels, outputs=outputs, unit=config.unit,
    )
