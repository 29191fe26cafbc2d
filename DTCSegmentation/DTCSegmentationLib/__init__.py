"""DTCSegmentationLib: frame-by-frame prostate segmentation of TRUS video, without Slicer.

One concept per package:

* ``sequence_io``: recordings in and out (frames, geometry, times) in every format a TRUS
  workflow meets; ``simulation``: the synthetic TRUS video simulator;
* ``networks``: the architecture registry, feature taps, model files (safetensors + metadata),
  deployment export (ONNX, TorchScript) and where the shipped model lies;
* ``inference``: preprocessing, back ends, devices, the segmenter, postprocessing, overlays and
  the file-to-file pipeline;
* ``temporal``: optical flow and warping; temporal consistency, flicker events and maps;
* ``live``: the newest-frame worker and the OpenIGTLink bridge of ``dtc live``;
* ``reconstruction``: a sweep's masks with per-frame poses compounded into the gland in 3D, its
  surface, volume and accuracy;
* ``mrml``: the Slicer scene side (the scene is passed in; runs headless on ``slicer-core``);
* ``commands``: the inference-side ``dtc`` sub-commands.

Cross-cutting: ``choices`` (torch-free names for the panels and argparse), ``errors``
(user-facing errors), ``atomic`` (outputs that appear only when complete), ``dependencies``
(the packages the Slicer panels install).
"""

__version__ = "0.1.0"
