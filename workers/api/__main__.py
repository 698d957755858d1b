"""`python -m workers.api`: run the HTTP API."""

from workers.api.app import main

main()
