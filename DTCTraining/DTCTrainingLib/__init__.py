"""DTCTrainingLib: the DTC distillation training pipeline (teacher, then temporally distilled student).

May import DTCSegmentationLib; never the other way round.
"""

__version__ = "0.1.0"
