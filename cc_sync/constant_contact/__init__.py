"""The Constant Contact V3 client and its emulator. Pure Python: this package never imports frappe."""
