"""Talking to the app's own endpoints: the events webhook (HTTP). AWS targets are in videoctl.aws."""
