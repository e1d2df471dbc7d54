"""What git-orch records in git: contracts, the ledger of events, the state folded from them."""
