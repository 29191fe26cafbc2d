"""Package attributes imported from their modules on first use (PEP 562).

The Slicer panels import parts of a package (``networks.default_model``, ``mrml.recording_segmentation``)
before torch and OpenCV are installed; importing any submodule runs the package's ``__init__``
first, so that ``__init__`` must not import the heavy modules itself.
"""

import importlib
from typing import Callable, Dict, List, Sequence, Tuple


def lazy_exports(package: str, exports: Dict[str, Sequence[str]],
                 eager: Sequence[str] = ()) -> Tuple[Callable[[str], object], Callable[[], List[str]], List[str]]:
    """``(__getattr__, __dir__, __all__)`` for ``package`` whose names ``exports[module]`` live in
    ``package.module``; ``eager`` names are already in the package's namespace."""
    module_of = {name: module for module, names in exports.items() for name in names}
    namespace = importlib.import_module(package).__dict__
    names = sorted(set(module_of) | set(eager))

    def getattr_(name: str):
        if name not in module_of:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module_of[name]}"), name)
        namespace[name] = value  # found directly next time
        return value

    def dir_() -> List[str]:
        return sorted(set(namespace) | set(names))

    return getattr_, dir_, names
