import sys

from bench.grid import main

sys.exit(main(sys.argv[1:]))
