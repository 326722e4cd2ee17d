"""cutover: each `pulumi up` moves every service's rollout one safe step (see README.md)."""

from components.program import run

run()
