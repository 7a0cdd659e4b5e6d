import sys

from bench.shape import main

sys.exit(main(sys.argv[1:]))
