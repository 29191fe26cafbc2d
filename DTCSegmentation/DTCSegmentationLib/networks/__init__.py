"""2D segmentation networks: a registry by name and feature taps for the training losses."""

from .registry import NETWORKS, NetworkEntry, NetworkError, build_network, network_entry
from .taps import FeatureTaps

__all__ = ["NETWORKS", "NetworkEntry", "NetworkError", "build_network", "network_entry", "FeatureTaps"]
