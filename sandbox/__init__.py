"""What runs inside the sandbox: the runner and the library runtime (stdlib + NumPy only)."""
