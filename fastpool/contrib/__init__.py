"""Optional integrations. Nothing inside ``fastpool`` imports this package."""
