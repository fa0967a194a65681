"""DeGLA fine-tuning (with CLIP and NegCLIP baselines) on upstream open_clip, run by accelerate."""

from compclip.train.data import DataConfig
from compclip.train.loop import OptimConfig, TrainConfig, fit
from compclip.train.losses import LossConfig, TrainingLoss
from compclip.train.run import run, train

__all__ = ["DataConfig", "LossConfig", "OptimConfig", "TrainConfig", "TrainingLoss", "fit", "run", "train"]
