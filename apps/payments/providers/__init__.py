"""Payment providers, one module each, behind the interface in :mod:`.base`."""
