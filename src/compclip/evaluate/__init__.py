"""The evaluator: zero-shot accuracy against PMI and compositional benchmarks (SugarCrepe, VALSE, ARO)."""

from compclip.evaluate.encode import RuntimeConfig
from compclip.evaluate.run import EvaluateConfig, evaluate
from compclip.evaluate.stats import StatsConfig

__all__ = ["EvaluateConfig", "RuntimeConfig", "StatsConfig", "evaluate"]
