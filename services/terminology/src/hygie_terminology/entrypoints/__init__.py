"""HTTP routers and the command line."""
