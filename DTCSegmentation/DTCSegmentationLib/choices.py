"""The named choices of the command line and the Slicer panels, in one torch-free place.

The panels import these before torch, OpenCV or MONAI are installed, so this module imports
nothing heavy; the modules that implement each choice check their names against these tuples.
"""

DEVICES = ("auto", "cpu", "cuda", "mps")
"""Compute devices (``cuda:N`` is also accepted where a device is resolved)."""

BACKENDS = ("eager", "torchscript", "onnx")
"""Inference back ends: eager PyTorch, a frozen TorchScript module, ONNX Runtime."""

MODEL_FILE_SUFFIXES = {"safetensors": (".safetensors",), "onnx": (".onnx",), "torchscript": (".pt", ".ts", ".torchscript")}
"""Each model file format and its suffixes: readers tell the format by the suffix, so a file must carry its own."""

MIN_INPUT_SIZE = 16
"""The smallest network input height and width (pixels) a model file, an export or a training run may ask for."""

MASK_FORMATS = {"seq.nrrd": ".seq.nrrd", "nii.gz": ".nii.gz", "png": ""}
"""Mask / probability sequence formats and their file suffix (``png``: a folder of images)."""

NETWORK_NAMES = ("fast_unet", "fast_unet_ds", "unet", "unet_plus_plus")
"""Network architectures of the registry (``DTCSegmentationLib.networks.registry``)."""

FLOW_METHODS = ("farneback", "dis_ultrafast", "dis_fast", "dis_medium")
"""Dense optical-flow methods (``DTCSegmentationLib.temporal.flow``)."""

PSEUDO_LABEL_TRANSFORMS = ("hflip", "vflip", "rot180")
"""Exact geometric transforms for the student's equivariance pseudo-labels (``DTCTrainingLib.losses.pseudo_labels``)."""

SIMULATION_DIFFICULTIES = ("easy", "default", "hard")
"""Simulator difficulty presets (``DTCSegmentationLib.simulation.config.DIFFICULTIES``)."""

SIMULATION_STYLES = ("classic", "clinical")
"""Simulator looks (``DTCSegmentationLib.simulation.config.STYLES``): classic (probe at the top, bare image)
or clinical (probe at the bottom, scanner screen around the image, machine settings randomised)."""

INT8_MIN_AGREEMENT = 0.98
"""Lowest mean Dice between float32 and int8 masks on held-out frames for ``dtc export --int8`` to write the file."""

INT8_CALIBRATION_FRAMES = 100
"""Frames of the user's recordings that calibrate int8 activation ranges (as many more, at most, check the result)."""

MASK_NODES = ("labelmap", "segmentation")
"""How a run's masks appear in the scene: a labelmap sequence only, or also a segmentation sequence (one "Prostate"
segment per frame) that the Segment Editor corrects (``DTCSegmentationLib.mrml.segmentations``)."""
