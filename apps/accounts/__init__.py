"""Users (e-mail login), shopper profile (country, language, currency, time zone), merchants and staff."""
