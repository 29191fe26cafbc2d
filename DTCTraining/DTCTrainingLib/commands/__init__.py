"""Sub-commands of ``dtc`` that belong to the training side (see DTCSegmentationLib.commands)."""

COMMAND_MODULES = ("demo", "train", "dataset", "evaluate", "compare", "ablation")
