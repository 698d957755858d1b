"""ServiceTitan: jobs and appointments polled from the JPM API v2, job cancels, reschedules, holds, notes and tasks."""
