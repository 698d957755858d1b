"""zoom connector."""
