"""Who is calling and what they may see: principals and roles, bearer tokens, browser sessions with CSRF
protection, local accounts, OpenID Connect sign-in, and the gate that authenticates before any body is read.

Nothing here imports FastAPI at package import time, so the CLI (`noshow users`) stays light."""
