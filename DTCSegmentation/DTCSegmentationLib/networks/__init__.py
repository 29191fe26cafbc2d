"""2D segmentation networks: a registry by name and feature taps for the training losses.

``default_model`` (where the shipped model lies) needs no torch; the rest is imported on first
use (PEP 562), so the Slicer panel can name the default model before torch is installed.
"""

import importlib

_EXPORTS = {
    "registry": ("NETWORKS", "NetworkEntry", "NetworkError", "build_network", "network_entry"),
    "taps": ("FeatureTaps",),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name):
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
