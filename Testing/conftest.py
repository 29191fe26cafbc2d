"""pytest set-up shared by the whole suite: the ``slow`` and ``fuzz`` markers, the Hypothesis profiles and
fixtures without arguments.

``slow`` marks tests that train networks or open sockets; CI runs them too (``-m "not slow"``
gives a quick local loop).  ``fuzz`` marks the property-based bad-input tests (Hypothesis): the
``ci`` profile (the default) keeps them small and reproducible, ``--hypothesis-profile=long`` runs
them deep.  Parameterised factories (frames, recordings, tiny models, the fuzz harness) are in
``samples.py``.
"""

import pytest
from hypothesis import HealthCheck, settings
from samples import REPO_ROOT

# ci: a few examples per property, the same ones on every run (so CI never fails by chance),
# and no per-example deadline: the machines are shared and slow, and hangs have their own limit
# (samples.bounded).  long: hundreds of new examples per property, for a deliberate deep run.
_FUZZ = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
             print_blob=True)
settings.register_profile("ci", max_examples=50, derandomize=True, **_FUZZ)
settings.register_profile("long", max_examples=1000, **_FUZZ)
settings.load_profile("ci")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: trains a network or opens sockets (CI runs it; -m 'not slow' skips)")
    config.addinivalue_line("markers", "fuzz: property-based bad-input tests (Hypothesis profiles ci / long)")


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
