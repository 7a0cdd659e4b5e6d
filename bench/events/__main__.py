import sys

from bench.events import main

sys.exit(main(sys.argv[1:]))
