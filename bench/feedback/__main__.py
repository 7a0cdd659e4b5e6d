import sys

from bench.feedback import main

sys.exit(main(sys.argv[1:]))
