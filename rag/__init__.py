"""ragchat question side: retrieval, cited answers, backends, CLI."""
