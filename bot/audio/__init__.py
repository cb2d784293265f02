"""Encore's audio toolkit, free of Discord: probe a file, stitch a chain into the whole song, draw its waveform."""
