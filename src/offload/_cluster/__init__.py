"""`offload cluster`: many uvicorn server processes on one address that never go down.

A supervisor (``_supervisor``) binds the listening socket once (``_socket``) and forks
worker processes (``_worker``), each a uvicorn server of the app on that socket. It
restarts crashed workers with back-off (``_backoff``), kills workers whose event loop
stops beating (``_messages``), recycles workers over their limits (``_recycle``),
reloads one worker at a time, and answers ``status``/``reload`` on a control socket
(``_control``). ``_command`` is the command line.
"""

from ._serve import serve

__all__ = ["serve"]
