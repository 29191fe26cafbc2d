"""2D segmentation networks: a registry by name and feature taps for the training losses.

``default_model`` (where the shipped model lies) needs no torch; the rest is imported on first
use (PEP 562), so the Slicer panel can name the default model before torch is installed.
"""

from DTCSegmentationLib.lazy_exports import lazy_exports

_EXPORTS = {
    "registry": ("NETWORKS", "NetworkEntry", "NetworkError", "build_network", "network_entry"),
    "taps": ("FeatureTaps",),
}
__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
