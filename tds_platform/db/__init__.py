"""Database access shared by the platform: URLs, engines, edition detection and migrations."""
