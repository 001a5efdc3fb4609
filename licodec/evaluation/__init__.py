"""Measuring the codec: `licodec eval` (rate-distortion) and `licodec bench` (speed, size, memory)."""
