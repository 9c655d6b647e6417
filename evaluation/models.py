"""Evaluation models arrive with the remote evaluation issue."""
