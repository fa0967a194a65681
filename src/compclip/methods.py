"""The fine-tuning methods (each a loss of :mod:`compclip.train.losses`), DeGLA first: the train
command's choices and the pipeline's fan-out by default. Kept apart from the losses so that the
pipeline and the command line name them without importing torch."""

METHODS = ("degla", "negclip", "clip")
