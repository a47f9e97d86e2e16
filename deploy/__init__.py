"""The production-shaped stack's helpers (docker-compose.yml): certificates and the scrape key."""
