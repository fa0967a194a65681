"""GenPairs on real models: pairs by PMI stratum, LLM captions, FLUX images (``compclip genpairs``)."""
