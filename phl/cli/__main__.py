import sys

from phl.cli import main

sys.exit(main())
