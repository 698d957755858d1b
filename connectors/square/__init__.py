"""Square Appointments (Bookings API): webhooks, REST client, calendar and polled source."""
