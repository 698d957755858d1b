"""GoHighLevel (LeadConnector) connector."""
