"""The dispatcher: delivers what the outbox holds (webhooks, email, pages), at least once."""
