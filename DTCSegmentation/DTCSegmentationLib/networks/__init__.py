"""2D segmentation networks: a registry by name and feature taps for the training losses."""

from DTCSegmentationLib.networks.registry import NETWORKS, NetworkEntry, NetworkError, build_network, network_entry
from DTCSegmentationLib.networks.taps import FeatureTaps

__all__ = ["NETWORKS", "NetworkEntry", "NetworkError", "build_network", "network_entry", "FeatureTaps"]
