"""People at the console: accounts, passwords, authenticator codes and sessions."""
