"""Pages people use (网页): citizens' 点·靓 channel, the station channel, consoles and dashboards.

Server-rendered Django templates with HTMX; every script, style and map asset ships in ``static/cogov``.
Views are thin: they parse, call a service or a selector, and render — rules live in the domain apps.
"""
