"""The operations CLI behind `starter.py`: claims, API keys, the access log."""
