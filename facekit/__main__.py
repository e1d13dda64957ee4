"""`python -m facekit ...`"""

import sys

from facekit.cli import main

if __name__ == "__main__":
    sys.exit(main())
