"""Pure domain rules: no I/O library is imported below this package."""
