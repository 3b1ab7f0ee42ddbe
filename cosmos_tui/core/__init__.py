"""The headless domain: everything cosmos-tui does, minus presentation.

Nothing here imports textual, and nothing imports torch at import time (a function that needs
torch imports it inside the function).
"""
