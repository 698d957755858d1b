"""QuickBooks Online (Accounting API v3): signed webhooks, change data capture polled with a cursor, invoices."""
