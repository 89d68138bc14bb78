"""The three deployables (api, worker, gateway) and the `scoreboard` command that starts them."""
