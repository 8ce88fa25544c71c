"""Every user-facing message, as Jinja2 templates: a package only so they ship as package data."""
