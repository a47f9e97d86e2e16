"""The console: server-rendered pages for the people a claim waits on; another door to the same
service layer as the API."""
