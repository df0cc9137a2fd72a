"""Training and benchmark data that can be made offline: generated multitrack music with exact stems."""
