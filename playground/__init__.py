"""A local playground: the bot against a Telegram emulator and sandbox providers, driven from a web page.

``python -m playground`` — see ``playground/__main__.py``. With a real BOT_TOKEN it runs the real bot instead.
"""
