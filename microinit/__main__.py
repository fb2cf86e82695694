import sys

from microinit.cli import main

sys.exit(main())
