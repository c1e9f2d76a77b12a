"""The process topology: ``keel api``, ``keel worker``, and ``keel up`` supervising them.

- :mod:`keel.processes.service`: the API app of one ``keel api`` process (its resources are
  opened at the server's start, in each process of a multi-process server).
- :mod:`keel.processes.api`: ``keel api``, the HTTP API only, on uvicorn (``--processes N``).
- :mod:`keel.processes.worker`: ``keel worker``, workflows and actions from the task queue.
- :mod:`keel.processes.supervisor`: child processes watched and restarted.
- :mod:`keel.processes.up`: ``keel up``, a dev server, API and workers as real child processes.
"""
