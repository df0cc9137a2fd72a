"""SENSE export toolchain (workstation side, needs the ``export`` extra): build students, export ONNX and
TFLite, quantize, verify parity and write model packs that ``edge`` loads. Imports ``edge``; never the reverse."""
