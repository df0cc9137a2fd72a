"""Fakes of the far side of each hardware link (STYLE.md #2): register-level I2C chips on a fake bus.

The production drivers run unchanged against these; nothing here imports or imitates our own classes.
"""
