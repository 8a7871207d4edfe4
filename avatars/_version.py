__version__ = "0.1.0"

#: The distribution's name on the package index (``pip install`` it); the
#: import name is ``avatars``.
DISTRIBUTION = "avatar-anonymization-client"
