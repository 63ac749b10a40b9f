"""Events, live-session stats, warehouse sync. Listens to signals; no app imports it."""
