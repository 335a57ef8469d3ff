"""Guards for web frameworks: FastAPI, Starlette and Flask, each an optional extra.

Import the module of your framework (``jwtseal.integrations.fastapi``,
``.starlette``, ``.flask``); this package itself imports no framework, and the
core of jwtseal never imports this package. Every guard answers as RFC 6750
asks: 401 with ``WWW-Authenticate: Bearer`` for a missing or refused token,
403 ``insufficient_scope`` for a missing scope, and 503 with ``Retry-After``
when keys cannot be had.
"""
