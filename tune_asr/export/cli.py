"""``export-best``: the best trial of a search (or any checkpoint) as an NSML submission folder.

    export-best --experiment results/NAME [--trial ID] --out DIR [--platform nsml|nova] [--check DATA]
    export-best --checkpoint runs/x/best --out DIR ...

``--check DATA`` then replays the folder as ``nsml run`` + ``nsml submit`` would, on
``DATA/test/test_data``, and prints its CER, files, seconds and speed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tune_asr.checkpoint import CheckpointError, load_checkpoint
from tune_asr.export.package import DEFAULT_IMAGE, PLATFORMS, ExportError, write_package
from tune_asr.export.replay import ReplayError, replay


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="export-best", description=__doc__.split("\n\n")[0].replace("``", ""),
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--experiment", type=Path, help="a search's folder (results/NAME): export its lowest-val_cer checkpoint")
    source.add_argument("--checkpoint", type=Path, help="a checkpoint.pt, or a folder holding one (e.g. tune_asr.train's OUT/best)")
    parser.add_argument("--trial", help="with --experiment: export this trial's best checkpoint instead")
    parser.add_argument("--out", type=Path, required=True, help="package folder to write (absent or empty)")
    parser.add_argument("--platform", choices=sorted(PLATFORMS), default="nsml", help="nsml (2022 competition) or nova (2023)")
    parser.add_argument("--image", default=DEFAULT_IMAGE, help="Docker image for setup.py's first line")
    parser.add_argument("--dataset", default="DATASET", help="the platform's dataset name, for the README's commands")
    parser.add_argument("--check", type=Path, metavar="DATA", help="replay the package on DATA/test (nsml run, then nsml submit)")
    args = parser.parse_args(argv)
    if args.trial and not args.experiment:
        parser.error("--trial needs --experiment")
    return args


def _source(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    """The checkpoint to export and a sentence saying where it came from."""
    if args.experiment:
        from tune_asr.export.best_trial import choose

        best = choose(args.experiment, args.trial)
        return load_checkpoint(best.checkpoint_dir), f"Search `{args.experiment}`, {best.describe()} (`{best.checkpoint_dir}`)."
    if not args.checkpoint.exists():
        raise ExportError(f"--checkpoint {args.checkpoint} does not exist")
    state = load_checkpoint(args.checkpoint)
    history = state.get("history") or []
    measured = f", epoch {history[-1]['epoch']}: val_cer {history[-1]['val_cer']:.4f}" if history else ""
    return state, f"Checkpoint `{args.checkpoint}`{measured}."


def main(argv: list[str] | None = None) -> int:
    """Entry point; 0 on success, 1 when the replay fails, 2 on bad input."""
    args = parse_args(argv)
    try:
        state, source = _source(args)
        out = write_package(state, args.out, platform=args.platform, image=args.image, source=source, dataset=args.dataset)
    except (ExportError, CheckpointError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{source}\nWrote {out} ({args.platform}); see {out / 'README.md'} for the {args.platform} commands.")
    if args.check:
        try:
            print(f"Replay on {args.check}: {replay(out, args.check).summary()}")
        except ReplayError as error:
            print(f"replay failed: {error}", file=sys.stderr)
            return 1
    return 0
