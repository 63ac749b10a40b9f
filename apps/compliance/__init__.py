"""Country product rules, moderation word lists, consent, privacy policies, GDPR, audit log, retention."""
