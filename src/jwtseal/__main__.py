"""``python -m jwtseal``: the same command as ``jwtseal``."""

from .cli import main

main()
