"""Which layout a data folder has, found from what is inside it (``--data`` takes either)."""

from __future__ import annotations

from pathlib import Path

from tune_asr.data.kspon import KsponLayout
from tune_asr.data.listing import DataError, Layout
from tune_asr.data.nsml import NsmlLayout

LAYOUTS = (NsmlLayout, KsponLayout)


def detect_layout(data_dir: Path) -> Layout:
    root = Path(data_dir)
    for layout in LAYOUTS:
        if layout.fits(root):
            return layout(root)
    raise DataError(f"{root}: no known data layout; expected NSML's DIR/train/train_label and DIR/train/train_data, "
                    "or KsponSpeech's DIR/KsponSpeech_01 … _05 (with DIR/KsponSpeech_scripts/train.trn if it was distributed)")
