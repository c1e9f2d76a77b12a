"""The HTTP contracts of the API: request and response bodies, one module per resource."""

#: The largest integer a stored number (a version, an offset) can hold in every backend: bigger
#: ones are refused as a 422 at the edge instead of failing inside the database.
MAX_STORED_INT = 2**31 - 1
