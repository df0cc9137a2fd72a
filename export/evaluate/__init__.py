"""Evaluation of model packs: separation quality (SDR, SI-SDR per stem) against ground-truth stems, reference
separators (ideal ratio mask, DSP baseline, the Spleeter teacher), tagging mAP against YAMNet, torch-free parity of
a pack's artifacts, and the report that goes into the pack's manifest and model card."""
