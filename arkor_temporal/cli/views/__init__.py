"""Terminal views: rich renderings and text of what the client API returns.

Views only format: they take models and return renderables or strings (the live
watch view is fed snapshots by its command); they never call Temporal.
"""
