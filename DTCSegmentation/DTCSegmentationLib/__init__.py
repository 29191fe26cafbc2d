"""DTCSegmentationLib: frame-by-frame prostate segmentation of TRUS video, without Slicer.

One concept per module:

* data: ``sequence`` (frames and geometry), ``sequence_io`` (reading and writing recordings),
  ``simulation`` (the synthetic TRUS video simulator), ``atomic`` (interruption-safe outputs),
  ``errors`` (user-facing errors);
* models: ``networks`` (registry, feature taps), ``model_file`` (safetensors + metadata),
  ``export`` (ONNX, TorchScript), ``devices``;
* inference: ``preprocessing``, ``backends``, ``segmenter``, ``postprocessing``, ``overlay``;
* live streams: ``live`` (newest-frame inference thread), ``igtl_images`` (OpenIGTLink IMAGE
  messages to frames and back), ``igtl_bridge`` (the OpenIGTLink connections of ``dtc live``);
* temporal analysis: ``flow`` (optical flow and warping), ``consistency``, ``plots``;
* Slicer: ``mrml`` (volume sequences, browsers, scene bundles; the scene is passed in);
* ``commands``: the inference-side ``dtc`` sub-commands.
"""

__version__ = "0.1.0"
