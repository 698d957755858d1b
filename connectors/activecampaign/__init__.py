"""ActiveCampaign: deals moved to a "Missed" stage through webhooks; contact fields, notes and tasks outbound."""
