"""The compositional world: seeded scenes of coloured shapes and accessories, rendered, with captions."""

from compclip.world.captions import Wording, compose, noun_phrase, sample_caption
from compclip.world.corpus import CorpusConfig, write_corpus
from compclip.world.preset import World, load_world
from compclip.world.render import Renderer, shape_mask
from compclip.world.sampler import CorpusSampler, accessory_probs
from compclip.world.scene import Box, Description, Scene, Thing, holds, make_scene, random_object

__all__ = [
    "Box",
    "CorpusConfig",
    "CorpusSampler",
    "Description",
    "Renderer",
    "Scene",
    "Thing",
    "Wording",
    "World",
    "accessory_probs",
    "compose",
    "holds",
    "load_world",
    "make_scene",
    "noun_phrase",
    "random_object",
    "sample_caption",
    "shape_mask",
    "write_corpus",
]
