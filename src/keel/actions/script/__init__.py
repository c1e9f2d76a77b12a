"""The machinery of ``core.script.run_python``: a sandboxed child process and cached environments.

- :mod:`keel.actions.script.bootstrap`: the code that runs first in the child (limits, guards,
  then the user's ``main``); its source is handed to ``python -I -S -c``.
- :mod:`keel.actions.script.sandbox`: starts that child, bounds its time and output, reads its
  result.
- :mod:`keel.actions.script.environments`: one cached virtual environment per pinned set of
  dependencies.
"""
