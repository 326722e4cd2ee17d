"""The operator's command line for cutover rollouts (`python -m cutover`), and webhook notifications.

Modules:
    cli        argument parsing and wiring; `python -m cutover` (cutover/__main__.py)
    records    the `rollouts` output and per-service settings as plain values; when the next step is due
    status     text: the status table, per-run lines, bars and durations
    commands   approve / abort / promote / undo: which config key to set (pure), then one `up`
    drive      the drive loop: `up` until settled, waiting out bakes; exit codes
    updates    one `up`: waiting out another update's lock, pending-operations advice
    events     phase changes between two consecutive outputs (pure)
    notify     posting events to Slack, Teams (Adaptive Card) and generic webhooks (urllib)
    ports      the StackWorkspace protocol and the tool's errors
    workspace  the Automation API adapter: the only module that imports pulumi.automation
"""
