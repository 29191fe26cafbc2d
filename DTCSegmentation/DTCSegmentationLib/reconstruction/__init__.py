"""The gland in 3D: masks of a sweep with per-frame geometry compounded into a labelmap, its volume and surface.

One concept per module:

* ``frame_poses``: per-frame ``(T, 4, 4)`` pixel-to-LPS matrices from a PLUS sequence file, an
  importer sweep (``sweep.json``) or a recording's geometry, checked;
* ``compounding``: masks + poses -> a 3D labelmap (shape-based interpolation between neighbouring
  frames), with the volume in mL and the frames used;
* ``surface``: the labelmap's closed, smoothed surface (VTK, as Slicer's segmentations make it);
* ``accuracy``: volume error and surface distance of a reconstruction to a reference label.
"""
