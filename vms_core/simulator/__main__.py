"""``python -m vms_core.simulator`` is ``vms simulate``."""

import sys

from vms_core.simulator.cli import main

sys.exit(main())
