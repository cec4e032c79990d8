"""The result store and the reports (HTML, Markdown, JSON, figures)."""
