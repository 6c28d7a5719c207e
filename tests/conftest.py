from __future__ import annotations

from pathlib import Path

import pytest

from tests.micropython import runner


@pytest.fixture(scope="session")
def mpy_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """payload_codec/ and firmware/ as .mpy files, with the codec harness, ready for MICROPYPATH."""
    harness = Path(__file__).parent / "micropython" / "codec_harness.py"
    return runner.build(tmp_path_factory.mktemp("mpy"), extra=(harness,))
