"""The Gradio web chat and the OpenAI-compatible HTTP API."""
