"""Translatable pages, banners and campaigns."""
