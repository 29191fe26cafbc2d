"""Sub-commands of the ``dtc`` command line that belong to the inference side.

Each module defines ``register(subparsers)``, which adds one sub-command whose parser
has ``func`` set to a ``run(args) -> int`` function.  Heavy imports (torch, OpenCV)
happen inside ``run`` so that ``dtc --help`` stays fast.
"""

COMMAND_MODULES = ("simulate", "segment", "export", "live", "reconstruct")
