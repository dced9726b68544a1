"""End-to-end tests: the real `python -m bot` process against the Telegram emulator and the fake providers."""
