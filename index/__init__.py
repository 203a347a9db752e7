"""ragchat document side: load, clean, chunk, embed and store documents."""
