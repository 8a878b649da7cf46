"""Developer tools of mobile_base (board emulator)."""
