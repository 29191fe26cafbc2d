"""Fine-tuning a trained model on a little new data: the settings of a short run that starts from its weights.

The run is ``dtc train all`` with ``teacher.init`` = the model: the teacher stage starts from the
model's weights and learns the labelled frames (e.g. a user's corrections), then the student starts
from that teacher and learns temporal consistency from every frame, labelled or not.  Network,
input size and feature taps are the model's, so the weights fit; the schedule is short (a few
epochs, one cosine cycle) at a lower learning rate than training from scratch (0.0005, the rate the
README's fine-tuning example uses, against 0.001).  The student's pseudo-labels come from the frozen
teacher: with its own (``student.pseudo_label_source=student``) a student fine-tuned on a few frames
collapsed on real sweeps (validation Dice 0.53 -> 0.26 in one epoch, ``bench/bench_corrections.py``),
the degenerate fixed point ``config.py`` describes.
"""

from typing import Dict, Mapping, Optional

from DTCSegmentationLib.errors import DTCError, PathLike

FINE_TUNE_EPOCHS = 5
FINE_TUNE_LR = 0.0005


def fine_tune_settings(model: PathLike, epochs: int = FINE_TUNE_EPOCHS, lr: float = FINE_TUNE_LR,
                       extra: Optional[Mapping[str, object]] = None) -> Dict[str, object]:
    """``dtc train`` overrides (``{"section.field": value}``) that fine-tune the model file ``model``.

    Args:
        model: a ``.safetensors`` model file with DTC metadata.
        epochs: epochs of each stage; the cosine schedule makes one cycle over them (``optim.t0``).
        lr: AdamW's learning rate.
        extra: further overrides, applied last (e.g. ``{"optim.steps_per_epoch": 1}``).
    Raises:
        DTCError: the file is no DTC model, or was trained with a preprocessing the trainer does not configure.
    """
    from DTCSegmentationLib.networks.model_file import ModelInfo, read_model_info

    info = read_model_info(model)
    default = ModelInfo()
    if (info.resize_mode, dict(info.normalization)) != (default.resize_mode, dict(default.normalization)):
        raise DTCError(f"was trained with resize mode {info.resize_mode!r} and normalization {dict(info.normalization)}; "
                       "a training run uses the defaults, so its weights would see other inputs.", model,
                       "Fine-tune a model trained with the default preprocessing, or train a new one.")
    settings = {
        "teacher.init": str(model),
        "network.name": info.architecture,
        "network.arguments": dict(info.arguments),
        "data.height": int(info.input_size[0]),
        "data.width": int(info.input_size[1]),
        "data.in_channels": int(info.in_channels),
        "student.local_tap": info.local_tap,
        "student.global_tap": info.global_tap,
        "student.pseudo_label_source": "teacher",
        "optim.epochs": int(epochs),
        "optim.t0": int(epochs),
        "optim.lr": float(lr),
    }
    settings.update(extra or {})
    return settings
