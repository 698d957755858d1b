"""calcom connector."""
