"""Training data: ``manifest`` (``dataset.json``), ``layouts`` (manifest, TRUS-V and SUN-SEG folders),
``dataset_check``, ``case_loading`` (a case's frames and masks as arrays), ``augment``, ``flow_cache``,
``datasets`` (the teacher's labelled frames and the student's video clips as torch datasets),
``simulated_dataset`` (the built-in data) and ``volume_sweeps`` (TRUS sweeps cut from 3D volumes).
"""
