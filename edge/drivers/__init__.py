"""Chip drivers written from the datasheets. Each takes an :class:`edge.buses.I2CDevice` (or a gpiozero pin
factory) and never imports a bus library itself."""
