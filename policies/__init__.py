"""cutover's policy pack. `policies.offline.evaluate` runs it without the Pulumi CLI."""
