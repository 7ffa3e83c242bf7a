"""`python -m worker`: a worker process (see `worker.main`)."""

import sys

from worker import main

main.run(sys.argv[1:])
