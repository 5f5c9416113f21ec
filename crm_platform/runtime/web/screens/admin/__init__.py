"""Admin screens: pages only users with the admin role may open (``/admin/...``)."""
