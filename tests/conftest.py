import signal
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config) -> None:
    """A suite started in the background by a shell without job control (`bash -c 'pytest &'`,
    nohup) inherits SIGINT ignored, and so would every phl job the tests start: the tests that
    interrupt a job with SIGINT would see it run on. Catching SIGINT here again makes exec give
    the children the default disposition, as in a terminal or on CI."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT
