"""The platform as a service: the HTTP API (FastAPI, ``/v1``), zero-trust security and the
process that runs it with the runtime (``suanwang up``). ``create_app(settings)`` has no
import-time side effects."""
