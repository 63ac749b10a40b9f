"""Amounts in minor units, currencies, daily FX rates and their providers, Babel formatting."""
