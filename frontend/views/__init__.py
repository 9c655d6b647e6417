"""The server-rendered pages, one module per area. Views parse input and call services."""
