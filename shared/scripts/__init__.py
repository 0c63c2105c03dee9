"""PowerShell scripts the app runs outside itself: in cluster nodes (Run Command) and in Azure Automation."""
