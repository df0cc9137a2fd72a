"""What a device install lacks: the modules only the ``export`` extra (a workstation) installs.

Kept apart from ``tests.device_install`` (which blocks them as soon as it is imported) so that tests can read the
list without blocking anything.
"""

WORKSTATION_ONLY = ("torch", "onnx", "onnxscript", "litert_torch", "scipy", "mir_eval", "sklearn", "music21")
