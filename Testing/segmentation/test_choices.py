"""The torch-free choices the panels and the command line offer are exactly what the library implements."""

import pytest
from DTCSegmentationLib import choices


def test_every_network_name_is_a_registered_network_and_back():
    from DTCSegmentationLib.networks import NETWORKS

    assert set(choices.NETWORK_NAMES) == set(NETWORKS)


def test_every_flow_method_computes_a_flow_and_others_are_refused():
    import numpy as np
    from DTCSegmentationLib.temporal.flow import FlowSettings, flow_to_previous

    frame = np.random.default_rng(0).integers(0, 255, (32, 40)).astype(np.uint8)
    for method in choices.FLOW_METHODS:
        assert flow_to_previous(frame, frame, FlowSettings(method=method)).shape == (32, 40, 2)
    with pytest.raises(ValueError):
        FlowSettings(method="lucas_kanade")


def test_every_backend_and_device_name_is_accepted_by_the_segmenter_side():
    from DTCSegmentationLib.inference.devices import DeviceError, resolve_device

    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(DeviceError):
        resolve_device("tpu")
    assert choices.BACKENDS == ("eager", "torchscript", "onnx")  # the order the panels list


def test_simulation_difficulties_are_the_simulators():
    from DTCSegmentationLib.simulation.config import DIFFICULTIES

    assert tuple(DIFFICULTIES) == choices.SIMULATION_DIFFICULTIES


def test_choices_import_nothing_heavy():
    import subprocess
    import sys

    code = ("import sys, DTCSegmentationLib.choices; "
            "print(sorted(m for m in ('torch', 'cv2', 'monai', 'numpy') if m in sys.modules))")
    assert subprocess.check_output([sys.executable, "-c", code], text=True).strip() == "[]"


def test_simulation_styles_are_the_simulators():
    from DTCSegmentationLib.simulation.config import STYLES

    assert tuple(STYLES) == choices.SIMULATION_STYLES
