"""The write API: validates, authenticates, persists, enqueues, answers."""
