"""pytest set-up shared by the whole suite: the ``slow`` marker and fixtures without arguments.

``slow`` marks tests that train networks or open sockets; CI runs them too (``-m "not slow"``
gives a quick local loop).  Parameterised factories (frames, recordings, tiny models) are in
``samples.py``.
"""

import pytest
from samples import REPO_ROOT


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: trains a network or opens sockets (CI runs it; -m 'not slow' skips)")


@pytest.fixture
def repo_root():
    """The repository's root folder (README, CMake lists, Resources)."""
    return REPO_ROOT


@pytest.fixture
def mrml():
    """Slicer's Python package with its MRML classes (the slicer-core wheel), or skip the test."""
    slicer = pytest.importorskip("slicer")
    if not hasattr(slicer, "vtkMRMLScene"):
        pytest.skip("slicer-core is not installed")
    return slicer


@pytest.fixture
def stand_ins(mrml):
    """``slicer_stand_ins`` installed (Qt, CTK, the application, a new scene) for one test, then removed."""
    import slicer_stand_ins

    with slicer_stand_ins.installed():
        yield slicer_stand_ins
