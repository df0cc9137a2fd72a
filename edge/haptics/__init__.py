"""Haptic rendering: from analysis (stems, tags) to per-actuator intensities. Pure numpy."""
