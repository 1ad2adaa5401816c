"""The sandbox host: ``@local``, or the SSH host named by ``CCOPS_DEPLOY_HOST``.

Host data comes from this site's inventories/cc-ci.toml, the TOML file in
``CCOPS_DEPLOY_DATA`` and ``CCOPS_DEPLOY_<KEY>`` variables, in that order (see
deploy/settings.py); a bad value stops here, before any change.
"""

import os
from pathlib import Path

from deploy.settings import connection, host_data

SITE = Path(__file__).with_name("cc-ci.toml")

_name, _ssh = connection(os.environ)
sandbox = [(_name, {**_ssh, **host_data(os.environ, SITE)})]
