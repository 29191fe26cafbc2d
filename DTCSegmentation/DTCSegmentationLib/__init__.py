"""DTCSegmentationLib: frame-by-frame prostate segmentation of TRUS video, without Slicer.

Sub-modules, one concept each: ``sequence`` (frames and geometry), ``sequence_io`` (reading
and writing recordings), ``simulation`` (the synthetic TRUS video simulator), ``atomic``
(interruption-safe outputs), ``errors`` (user-facing errors).
"""

__version__ = "0.1.0"
