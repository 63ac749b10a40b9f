"""Payment providers, webhooks and refunds."""
