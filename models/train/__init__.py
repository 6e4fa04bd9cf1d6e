"""`gre train`: typed config, training loop, checkpoints, validation, logs."""
from models.train.config import TrainConfig
from models.train.loop import train

__all__ = ["TrainConfig", "train"]
