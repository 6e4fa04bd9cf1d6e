"""Training data: on-the-fly degradation of clean speech and the random-crop dataset."""
