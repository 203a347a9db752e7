"""A test kit for ragchat and its plugins: contracts each role must pass, and shared fakes."""
