"""Web Push (RFC 8030, VAPID RFC 8292) through `pywebpush`."""
