"""The HTTP contracts of the API: request and response bodies, one module per resource."""
