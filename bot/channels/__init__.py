"""Channel adapters: each turns its transport's updates into Events and Replies into API calls."""
