"""Example apps that verify bearer tokens with jwtseal's framework guards; the README shows them."""
