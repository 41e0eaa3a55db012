"""DDP scaling of one trial: the same configuration on 1, 2, … workers, side by side (issue 5.3, 8).

Each run is a real Ray Train ``TorchTrainer`` over ``trainables.worker.train_loop_per_worker`` (NCCL on
GPUs, gloo on CPU workers). The figure is the training throughput of the last epoch (audio-seconds
per second, all ranks together), so start-up and cuDNN autotuning of the first epoch stay out.

Usage:
  python benchmarks/ddp_scaling/run.py --data DIR --workers 1 2 [--gpu] [--set key=value ...] [--json OUT]
--smoke: one CPU worker, a tiny model, one epoch, to check that the script still runs (no figures).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import ray
from ray.train.torch import TorchTrainer

from trainables.resources import TrialResources
from trainables.train_run import scaling_config
from trainables.worker import train_loop_per_worker, worker_spec
from tune_asr.config import TrainConfig

SMOKE_OVERRIDES = ["n_mels=40", "conv_channels=4", "rnn_hidden=16", "rnn_layers=1", "batch_size=4", "freq_mask_width=8", "epochs=1"]


def run(data: Path, config: TrainConfig, resources: TrialResources, storage: Path) -> dict:
    started = time.time()
    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config=worker_spec(config.to_dict(), data, resources, started),
        scaling_config=scaling_config(resources),
        run_config=ray.train.RunConfig(name=f"ddp_{resources.num_workers}_{int(started)}", storage_path=str(storage.resolve())),
    )
    result = trainer.fit()
    metrics = result.metrics
    return {"workers": resources.num_workers, "audio_s_per_s": metrics["audio_seconds_per_second"],
            "epoch_seconds": metrics["seconds"], "startup_seconds": metrics["startup_seconds"],
            "val_cer": metrics["val_cer"], "wall_seconds": time.time() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--gpu", action="store_true", help="one GPU per worker (NCCL); else CPU workers (gloo)")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--storage", type=Path, default=Path("/tmp/ddp_scaling"))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--smoke", action="store_true", help="one CPU worker, tiny model, one epoch: checks the script runs")
    args = parser.parse_args()
    if args.smoke:
        args.workers, args.gpu, args.overrides = [1], False, [*SMOKE_OVERRIDES, *args.overrides]
    config = TrainConfig(epochs=2).with_overrides(args.overrides)
    ray.init(num_cpus=None if args.gpu else max(args.workers) + 1)
    rows = []
    for workers in args.workers:
        resources = TrialResources(gpus_per_trial=workers) if args.gpu else TrialResources(workers_per_trial=workers, cpus_per_worker=1)
        rows.append(run(args.data, config, resources, args.storage))
    base = rows[0]["audio_s_per_s"]
    print("\n| workers | audio-s/s (last epoch) | speed-up vs first row | epoch s | start-up s |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['workers']} | {r['audio_s_per_s']:,.0f} | {r['audio_s_per_s'] / base:.2f}× | {r['epoch_seconds']:.1f} | {r['startup_seconds']:.1f} |")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "config": config.to_dict(), "gpu": args.gpu}, indent=2))


if __name__ == "__main__":
    main()
