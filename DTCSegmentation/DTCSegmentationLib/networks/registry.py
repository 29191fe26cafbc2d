"""Segmentation networks by name, with their default arguments and feature-tap layers.

``build_network(name, in_channels, out_channels, **arguments)`` builds any entry; the
training losses find the *local* (last decoder features before the head) and *global*
(bottleneck) feature maps through the entry's tap layer names, so no network needs a
special ``forward``.  MONAI networks are also available by name as ``monai:<ClassName>``
(2D, with the arguments given), with taps named explicitly.
"""

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional

from torch import nn

from DTCSegmentationLib.errors import DTCError


class NetworkError(DTCError):
    """An unknown network name or arguments the network does not accept."""


@dataclass(frozen=True)
class NetworkEntry:
    """How to build one registered network.

    Attributes:
        build: ``build(in_channels, out_channels, **arguments) -> nn.Module`` returning logits.
        defaults: default keyword arguments.
        local_tap: module name of the last decoder feature map before the head.
        global_tap: module name of the bottleneck.
        description: one line for ``dtc`` help texts.
    """

    build: Callable[..., nn.Module]
    defaults: Dict[str, Any] = field(default_factory=dict)
    local_tap: str = ""
    global_tap: str = ""
    description: str = ""


class FirstOutput(nn.Module):
    """Wraps a network that returns a list of outputs (deep supervision) to return the first."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x):
        out = self.net(x)
        return out[0] if isinstance(out, (list, tuple)) else out


def _fast_unet(in_channels, out_channels, features=(16, 32, 64, 128)):
    from DTCSegmentationLib.networks.fast_unet import FastUNet

    return FastUNet(in_channels, out_channels, tuple(features))


def _fast_unet_ds(in_channels, out_channels, features=(24, 48, 96, 192)):
    from DTCSegmentationLib.networks.separable_unet import separable_unet

    return separable_unet(in_channels, out_channels, tuple(features))


def _unet(in_channels, out_channels, features=(32, 32, 64, 128, 256, 32)):
    from monai.networks.nets import BasicUNet

    return BasicUNet(spatial_dims=2, in_channels=in_channels, out_channels=out_channels, features=tuple(features))


def _unet_plus_plus(in_channels, out_channels, features=(32, 32, 64, 128, 256, 32)):
    from monai.networks.nets import BasicUNetPlusPlus

    return FirstOutput(BasicUNetPlusPlus(spatial_dims=2, in_channels=in_channels, out_channels=out_channels,
                                         features=tuple(features)))


NETWORKS: Dict[str, NetworkEntry] = {
    "fast_unet": NetworkEntry(_fast_unet, {"features": [16, 32, 64, 128]}, "decoder.0", "bottleneck",
                              "lightweight real-time U-Net for CPUs (stride-2 stem, ~2 GFLOPs at 256x448)"),
    "fast_unet_ds": NetworkEntry(_fast_unet_ds, {"features": [24, 48, 96, 192]}, "decoder.0", "bottleneck",
                                 "fast_unet with depthwise-separable (MobileNet-style) blocks, ~0.6 GFLOPs at 256x448"),
    "unet": NetworkEntry(_unet, {"features": [32, 32, 64, 128, 256, 32]}, "upcat_1", "down_4",
                         "standard 2D U-Net (MONAI BasicUNet), the paper's baseline family"),
    "unet_plus_plus": NetworkEntry(_unet_plus_plus, {"features": [32, 32, 64, 128, 256, 32]}, "net.upcat_0_4",
                                   "net.conv_4_0", "U-Net++ (MONAI BasicUNetPlusPlus), the paper's best student"),
}


def _monai_entry(name: str) -> NetworkEntry:
    import monai.networks.nets as nets

    class_name = name.split(":", 1)[1]
    cls = getattr(nets, class_name, None)
    if cls is None or not isinstance(cls, type) or not issubclass(cls, nn.Module):
        raise NetworkError(f"MONAI has no network called {class_name!r}.",
                           fix="Use a class of monai.networks.nets, e.g. monai:SegResNet.")

    def build(in_channels, out_channels, **arguments):
        return FirstOutput(cls(spatial_dims=2, in_channels=in_channels, out_channels=out_channels, **arguments))

    return NetworkEntry(build, {}, "", "", f"MONAI {class_name}")


def network_entry(name: str) -> NetworkEntry:
    """The registry entry for ``name`` (a registered name or ``monai:<ClassName>``)."""
    if name.startswith("monai:"):
        return _monai_entry(name)
    if name not in NETWORKS:
        raise NetworkError(f"unknown network {name!r}.",
                           fix=f"Choose one of {', '.join(sorted(NETWORKS))} or monai:<ClassName>.")
    return NETWORKS[name]


def build_network(name: str, in_channels: int = 1, out_channels: int = 1,
                  arguments: Optional[Dict[str, Any]] = None) -> nn.Module:
    """Build network ``name`` with its defaults updated by ``arguments``; returns a module producing logits."""
    entry = network_entry(name)
    if arguments is not None and not isinstance(arguments, dict):
        raise NetworkError(f"network arguments must be a mapping of names to values, got {arguments!r}.",
                           fix='Write them as a JSON object, e.g. {"features": [16, 32, 64, 128]}.')
    merged = {**entry.defaults, **(arguments or {})}
    try:
        return entry.build(in_channels, out_channels, **merged)
    except MemoryError:
        raise
    except Exception as error:  # constructors (ours and MONAI's) reject bad values with any exception type
        raise NetworkError(f"network {name!r} does not accept the arguments {merged} ({type(error).__name__}: {error}).",
                           fix="Check the network arguments.") from None
