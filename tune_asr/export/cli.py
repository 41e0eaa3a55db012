"""``export-best``: the best trial of a search (or any checkpoint) as an NSML submission folder.

    export-best --experiment results/NAME [--trial ID] --out DIR [--platform nsml|nova] [--check DATA]
                [--max-rtf X | --time-limit S --test-hours H [--rtf-margin M]]
    export-best --checkpoint runs/x/best --out DIR ...

``--check DATA`` then replays the folder as ``nsml run`` + ``nsml submit`` would, on
``DATA/test/test_data``, and prints its CER, files, seconds and real-time factor (RTF).

NSML must transcribe the hidden test set within its time limit, so ``--max-rtf X`` exports the
lowest-CER trial among those whose best report's ``rtf`` is at most X, and ``--time-limit S
--test-hours H`` does the same with X = S / (H * 3600) * ``--rtf-margin``. A trial without an ``rtf``
(a search from before it was measured) cannot be shown to be within the limit. With ``--trial`` the
limit checks that one trial; ``--checkpoint`` refuses it (no trials to choose among). When no trial is
within it, the export exits 2 and writes nothing. The replay then says whether the RTF it measured
keeps the limit (a ``warning:`` line when not).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tune_asr.checkpoint import CheckpointError, load_checkpoint
from tune_asr.export.package import DEFAULT_IMAGE, PLATFORMS, ExportError, write_package
from tune_asr.export.replay import SUBMIT_LIMIT_S, ReplayError, replay
from tune_asr.export.rtf_limit import DEFAULT_MARGIN, MARGIN_WHY, RtfLimit


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
    speed = parser.add_argument_group(
        "inference speed", "Choose among the trials whose measured real-time factor (rtf) keeps NSML's inference time limit "
        f"(with --trial: check that trial). {MARGIN_WHY}")
    speed.add_argument("--max-rtf", type=_positive, metavar="X", help="export the lowest-CER trial whose rtf is at most X")
    speed.add_argument("--time-limit", type=_positive, metavar="S", help=f"with --test-hours: X = S / (H * 3600) * --rtf-margin (NSML's limit: {SUBMIT_LIMIT_S} s)")
    speed.add_argument("--test-hours", type=_positive, metavar="H", help="with --time-limit: hours of audio in the hidden test set")
    speed.add_argument("--rtf-margin", type=_positive, default=DEFAULT_MARGIN, metavar="M", help="with --time-limit: the safety margin, below 1")
    args = parser.parse_args(argv)
    if args.trial and not args.experiment:
        parser.error("--trial needs --experiment")
    if (args.time_limit is None) != (args.test_hours is None):
        parser.error("--time-limit and --test-hours go together")
    if args.max_rtf is not None and args.time_limit is not None:
        parser.error("--max-rtf or --time-limit/--test-hours, not both")
    if args.checkpoint and (args.max_rtf is not None or args.time_limit is not None):
        parser.error("--max-rtf and --time-limit choose among a search's trials: they need --experiment "
                     "(a --checkpoint export's --check still prints the RTF it measures)")
    return args


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text}: must be a positive number")
    return value


def _limit(args: argparse.Namespace) -> RtfLimit | None:
    """The limit on the rtf the flags ask for, if any."""
    if args.max_rtf is not None:
        return RtfLimit(args.max_rtf)
    if args.time_limit is not None:
        return RtfLimit.from_time_budget(args.time_limit, args.test_hours, args.rtf_margin)
    return None


def _source(args: argparse.Namespace, limit: RtfLimit | None) -> tuple[dict[str, Any], str]:
    """The checkpoint to export and a sentence saying where it came from (and why, under a limit)."""
    if args.experiment:
        from tune_asr.export.best_trial import choose

        best = choose(args.experiment, args.trial, limit)
        margin = f" {MARGIN_WHY}" if limit is not None and limit.margin is not None else ""
        return load_checkpoint(best.checkpoint_dir), f"Search `{args.experiment}`, {best.describe()} (`{best.checkpoint_dir}`).{margin}"
    if not args.checkpoint.exists():
        raise ExportError(f"--checkpoint {args.checkpoint} does not exist")
    state = load_checkpoint(args.checkpoint)
    history = state.get("history") or []
    measured = f", epoch {history[-1]['epoch']}: val_cer {history[-1]['val_cer']:.4f}" if history else ""
    return state, f"Checkpoint `{args.checkpoint}`{measured}."


def main(argv: list[str] | None = None) -> int:
    """Entry point; 0 on success, 1 when the replay fails, 2 on bad input."""
    args = parse_args(argv)
    limit = _limit(args)
    try:
        state, source = _source(args, limit)
        out = write_package(state, args.out, platform=args.platform, image=args.image, source=source, dataset=args.dataset)
    except (ExportError, CheckpointError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{source}\nWrote {out} ({args.platform}); see {out / 'README.md'} for the {args.platform} commands.")
    if args.check:
        try:
            result = replay(out, args.check)
        except ReplayError as error:
            print(f"replay failed: {error}", file=sys.stderr)
            return 1
        print(f"Replay on {args.check}: {result.summary()}")
        if limit is not None:
            print(limit.replay_verdict(result.rtf))
    return 0
