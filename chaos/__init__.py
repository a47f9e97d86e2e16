"""`make chaos`: fault injection on the dev stack with exact no-loss / no-duplicate checks."""
