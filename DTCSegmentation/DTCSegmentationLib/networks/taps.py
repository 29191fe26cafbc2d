"""Feature taps: read intermediate feature maps of any network by module name.

The training losses need the last decoder features (*local*) and the bottleneck
(*global*).  Forward hooks on named modules capture them during the ordinary forward
pass, so no network has to be edited to return them.
"""

from typing import Dict

import torch
from torch import nn

from DTCSegmentationLib.networks.registry import NetworkError


class FeatureTaps:
    """Context manager capturing the outputs of named modules during forward passes.

    Example::

        with FeatureTaps(model, {"local": "decoder.0", "global": "bottleneck"}) as taps:
            logits = model(images)
        taps.features["local"]  # (B, C, h, w)

    Captured tensors keep their autograd graph, so losses on them train the network.
    """

    def __init__(self, model: nn.Module, layers: Dict[str, str]):
        modules = dict(model.named_modules())
        missing = [name for name in layers.values() if name not in modules]
        if missing:
            raise NetworkError(f"{type(model).__name__} has no layer named {missing} to tap.",
                               fix=f"Name layers of the network, e.g. {', '.join(list(modules)[1:8])}.")
        self.features: Dict[str, torch.Tensor] = {}
        self._handles = []
        for key, name in layers.items():
            self._handles.append(modules[name].register_forward_hook(self._hook(key)))

    def _hook(self, key: str):
        def hook(module, inputs, output):
            self.features[key] = output[0] if isinstance(output, (tuple, list)) else output

        return hook

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False

