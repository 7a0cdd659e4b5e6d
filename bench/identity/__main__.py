import sys

from bench.identity import main

sys.exit(main(sys.argv[1:]))
