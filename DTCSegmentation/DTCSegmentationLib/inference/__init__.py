"""Running a trained network on frames: ``preprocessing`` (fit, normalise, restore), ``backends``
(eager, TorchScript, ONNX Runtime), ``devices``, ``segmenter`` (the batched frame-by-frame engine),
``postprocessing`` (largest component, holes), ``overlay`` (contours on frames) and ``pipeline``
(a recording in, mask / probability / overlay files out).
"""
