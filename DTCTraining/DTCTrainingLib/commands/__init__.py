"""Sub-commands of ``dtc`` that belong to the training side (see DTCSegmentationLib.commands)."""

COMMAND_MODULES = ("train", "dataset", "evaluate", "compare", "ablation")
