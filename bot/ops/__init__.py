"""The operator's tools around the command line: doctor, backup, the data-dir lock, progress, CLI words, redaction."""
