"""Search benchmark: a large deterministic world and timings of public.search_consultants."""
