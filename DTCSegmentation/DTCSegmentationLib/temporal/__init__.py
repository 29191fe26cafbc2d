"""Time in a recording: ``flow`` (dense optical flow and warping) and ``consistency`` (per-frame
temporal consistency, flicker events and maps, with or without motion compensation).
"""
