"""gre model core: STFT front end, networks, checkpoints, registry and the enhancement API."""
__version__ = "0.1.0"
