import sys

from ntkpaper.pipeline.cli import main

sys.exit(main())
