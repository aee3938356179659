"""The result folder: its format (format.py, shared with the add-on) and its atomic writing and reading (store.py)."""
