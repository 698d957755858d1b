"""What the help desks (Zendesk, Freshdesk) share: a ticket that stands for an appointment, and the CRM writes
made as private notes, ticket fields and follow-up tickets."""
