"""pytest plugin of ``avatars`` (fixtures are added with the local server)."""
