"""The evaluator: zero-shot accuracy against PMI and compositional benchmarks (SugarCrepe, VALSE, ARO)."""

from compclip.evaluate.compare import compare
from compclip.evaluate.encode import RuntimeConfig
from compclip.evaluate.headline import compare_headline, headline_metrics
from compclip.evaluate.run import BENCHMARKS, Benchmark, EvaluateConfig, evaluate
from compclip.evaluate.stats import StatsConfig

__all__ = [
    "BENCHMARKS",
    "Benchmark",
    "EvaluateConfig",
    "RuntimeConfig",
    "StatsConfig",
    "compare",
    "compare_headline",
    "evaluate",
    "headline_metrics",
]
