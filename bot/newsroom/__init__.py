"""The newsroom's controls: editors' commands and buttons, the reindex runner, audit log, usage, upkeep, feeds."""
