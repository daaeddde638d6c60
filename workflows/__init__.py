"""Domain logic. Functions here take domain arguments (never flask.request) and
leave committing to the caller only where they say so."""
