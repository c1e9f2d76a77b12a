"""The Keel console: server-rendered web pages over the JSON API, served by the API app at ``/``.

The console never reads Temporal or the store itself: every page asks the JSON API, in process
(:mod:`keel.console.api_client`), with the signed-in user's API key, so a page can show nothing the
API would not return to that key (secrets and ``mask_output`` values stay masked) and the API's
authentication is the console's. Pages are Jinja2 templates; htmx (live refresh, fragments) and
dagre (DAG layout) are vendored in ``static/`` (``make console-assets`` rebuilds them from npm).
"""

from keel.console.pages import PREFIX, install
from keel.console.routes import router, static_app

__all__ = ["PREFIX", "install", "router", "static_app"]
