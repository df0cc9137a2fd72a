"""The user's own sounds: embeddings from the pack's tagger, a prototype classifier with a calibrated threshold,
and a small overlay next to the pack that keeps them (``sense learn``, ``sense sounds``)."""
