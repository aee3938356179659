import sys

from .cli import main

try:
    sys.exit(main())
except KeyboardInterrupt:  # a stop that landed outside main's own handler: still a clean cancel
    print("error: cancelled; nothing was written.", file=sys.stderr)
    sys.exit(130)
