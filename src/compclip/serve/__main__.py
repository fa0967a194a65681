"""``python -m compclip.serve ARGS`` is ``compclip serve ARGS`` (the serving image's entry point)."""

import sys

from compclip.cli import main

sys.exit(main(["serve", *sys.argv[1:]]))
