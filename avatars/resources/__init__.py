"""Resource facades: one module per API group, one method per endpoint.

Every method goes through :meth:`avatars.ApiClient.request`; none builds its
own session, headers or error handling.
"""
