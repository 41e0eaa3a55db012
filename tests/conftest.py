"""Shared fixtures: small NSML folders written on the fly (no espeak-ng needed), and the tiny search."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import SENTENCES, SPACE, TINY_SEARCH_EPOCHS, write_nsml


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: starts Ray or runs a search (minutes); `pytest -m 'not slow'` skips them")


@pytest.fixture
def nsml_dir(tmp_path: Path) -> Path:
    return write_nsml(tmp_path / "data", [SENTENCES[i % len(SENTENCES)] for i in range(24)])


@pytest.fixture(scope="session")
def tiny_search(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real finished 3-trial search, ``<root>/storage/tiny``, its demo data at ``<root>/demo``.

    Built once per test session: the results and export tests read the same search.
    """
    import ray

    from tune_asr.data.demo import make_demo
    from tune_asr.search import main as search_main

    root = tmp_path_factory.mktemp("tiny_search")
    demo = make_demo(root / "demo", 24, seed=0, test_utterances=6, progress=False)
    space = root / "space.yaml"
    space.write_text(SPACE, encoding="utf-8")
    ray.init(num_cpus=2, log_to_driver=False)  # main() joins it; 2 CPUs make any runner play alike
    try:
        code = search_main(["--data", str(demo), "--space", str(space), "--trials", "3",
                            "--max-epochs", str(TINY_SEARCH_EPOCHS), "--seed", "0", "--grace-period", "1",
                            "--reduction-factor", "2", "--storage", str(root / "storage"), "--name", "tiny"])
    finally:
        ray.shutdown()
    assert code == 0
    return root / "storage" / "tiny"
