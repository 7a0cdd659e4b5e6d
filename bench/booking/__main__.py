import sys

from bench.booking import main

sys.exit(main(sys.argv[1:]))
