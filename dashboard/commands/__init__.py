"""Suitescope's own CLI commands, one module each; ``dashboard.cli`` registers them."""
