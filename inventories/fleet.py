"""Many sandbox hosts: ``pyinfra inventories/fleet.py deploy/host.py`` deploys them in parallel.

The hosts come from the fleet file (``CCOPS_FLEET``, else inventories/fleet.toml): one
``[hosts.NAME]`` table each, with pyinfra's ``ssh_*`` keys, its ``groups`` and its ``data``
file (inventories/cc-ci.toml's keys, ``[projects.NAME]`` tables for more pairs); see
deploy/settings.py. Every host is in the group ``fleet``. ``ccops fleet status`` reads it too.
"""

import os
from pathlib import Path

from deploy.settings import FLEET_VARIABLE, fleet

_file = Path(os.environ.get(FLEET_VARIABLE) or Path(__file__).with_name("fleet.toml"))
globals().update(fleet(_file, os.environ))
