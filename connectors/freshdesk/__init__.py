"""Freshdesk: tickets whose reason field says an appointment was missed or cancelled, through automation-rule
webhooks and the updated-since ticket list; outcomes written back as private notes and ticket fields."""
