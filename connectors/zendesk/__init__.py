"""Zendesk Support: tickets whose "appointment status" field says an appointment was missed, cancelled or
rescheduled, through trigger webhooks and the incremental ticket export; outcomes written back as private
comments and ticket fields."""
