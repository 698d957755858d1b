"""Salesforce: ServiceAppointment and Event polling, CRM writes, JWT bearer auth."""
