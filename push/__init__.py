"""Devices, channels and the delivery pipeline."""
