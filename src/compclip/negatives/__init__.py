"""Hard-negative captions of DeGLA's five types (and spatial relations), from rules or an LLM, filtered."""

from compclip.negatives.llm import Examples, LLMConfig, LLMGenerator
from compclip.negatives.rules import RuleGenerator
from compclip.negatives.run import NegativesConfig, Rules, filter_file, generate, propose, select
from compclip.negatives.steering import SteerConfig, Steering
from compclip.negatives.types import PAPER_TYPES, TYPES, Record
from compclip.negatives.validity import FilterConfig, ValidityFilter

__all__ = [
    "PAPER_TYPES",
    "TYPES",
    "Examples",
    "FilterConfig",
    "LLMConfig",
    "LLMGenerator",
    "NegativesConfig",
    "Record",
    "RuleGenerator",
    "Rules",
    "SteerConfig",
    "Steering",
    "ValidityFilter",
    "filter_file",
    "generate",
    "propose",
    "select",
]
