"""The sandbox host: ``@local``, or the SSH host named by ``CCOPS_DEPLOY_HOST``.

Host data comes from the TOML file in ``CCOPS_DEPLOY_DATA`` and ``CCOPS_DEPLOY_<KEY>``
variables (see deploy/settings.py); a bad value stops here, before any change.
"""

import os

from deploy.settings import connection, host_data

_name, _ssh = connection(os.environ)
sandbox = [(_name, {**_ssh, **host_data(os.environ)})]
