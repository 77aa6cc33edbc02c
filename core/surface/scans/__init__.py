"""Point clouds: the Scan value, scan files, cleaning and the virtual scanner."""
