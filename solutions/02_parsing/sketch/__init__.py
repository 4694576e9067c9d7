"""sketch: a small async web framework, built one stage at a time on asyncio and httptools."""
