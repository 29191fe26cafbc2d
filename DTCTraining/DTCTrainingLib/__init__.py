"""DTCTrainingLib: the DTC distillation training pipeline (teacher, then temporally distilled student),
its evaluation, and the ``dtc`` command line.

* ``data``: training-data folders, loading, augmentation, flow cache, torch datasets;
* ``losses``: the teacher's and the student's training signals;
* ``config``, ``trainer``, ``run_folder``: the typed configuration, the two stages, a run's files;
* ``training_process``: training in a child process for the Slicer panel;
* ``evaluation``: the paper's metrics, temporal scores, reports, post-hoc smoothing, the demo and
  the ablation;
* ``mrml``: training data from a Slicer scene and training curves in it;
* ``commands``, ``cli``: the training-side ``dtc`` sub-commands and the entry point.

May import DTCSegmentationLib; never the other way round.
"""

__version__ = "0.1.0"
