"""Landing accepted work onto the target branch."""
