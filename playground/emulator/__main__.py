"""``python -m playground.emulator [--port 8081]``: the emulator on its own."""
from .core import main

if __name__ == "__main__":
    main()
