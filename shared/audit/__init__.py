"""The drift audit: checks, the report, the service and the status page."""
