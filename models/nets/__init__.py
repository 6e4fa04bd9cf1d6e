"""Network architectures of gre. Each maps (compressed magnitude, phase) [B, F, T] to the same."""
