"""calendly connector."""
