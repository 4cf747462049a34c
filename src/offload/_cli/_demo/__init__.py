"""`offload demo`: the subset-sum server that stays responsive while it computes.

Nothing here imports the server stack at import time, so the command line can describe
the subcommand even without the ``demo`` extra installed.
"""
